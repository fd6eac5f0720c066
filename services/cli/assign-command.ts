// `scalemesh assign`: hand one task to the mesh through a balancer, and with
// --wait, wait for its final state and print its output. With --output json
// it prints one document: {"assignment": ...}, plus "task" with --wait.
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import {
  AssignResponseSchema,
  Balancer,
  TaskSchema,
  TaskState,
} from "../../libs/contracts/index.js";
import { createRpcClient } from "../../libs/rpc/index.js";
import { checkedTarget } from "./endpoints.js";
import type { OutputFormat } from "./option-parsers.js";
import { documentOf } from "./reading.js";

export interface AssignOptions {
  readonly balancer: string;
  readonly payload: string;
  readonly taskId?: string;
  readonly routingKey?: string;
  readonly capabilities: readonly string[];
  readonly priority: number;
  readonly maxAttempts: number;
  readonly taskTimeoutSec?: number;
  readonly strategy?: string;
  readonly wait: boolean;
  readonly waitSec: number;
  readonly format: OutputFormat;
}

/** Returns the exit code: 0 when the task was accepted (and with --wait, succeeded). */
export async function assign(options: AssignOptions, out: (text: string) => void): Promise<number> {
  const client = createRpcClient(Balancer, checkedTarget(options.balancer, "--balancer"), {
    defaultDeadlineMs: 10_000,
    balancing: "round_robin",
  });
  try {
    const response = await client.assign({
      task: {
        taskId: options.taskId ?? "",
        routingKey: options.routingKey ?? "",
        payload: new TextEncoder().encode(options.payload),
        requiredCapabilities: [...options.capabilities],
        priority: options.priority,
        maxAttempts: options.maxAttempts,
        timeout:
          options.taskTimeoutSec === undefined
            ? undefined
            : durationFromMs(options.taskTimeoutSec * 1000),
      },
      strategy: options.strategy ?? "",
    });
    const isJson = options.format === "json";
    const assignment = documentOf(AssignResponseSchema, response);
    if (!isJson)
      out(
        `task ${response.taskId} ${TaskState[response.state].toLowerCase()}${response.workerId ? ` on ${response.workerId} (${response.workerAddress})` : ""}, attempt ${response.attempt}: ${response.reason}`,
      );
    if (!options.wait) {
      if (isJson) out(JSON.stringify({ assignment }, null, 2));
      return 0;
    }
    const done = await client
      .awaitTask({ taskId: response.taskId }, { timeoutMs: options.waitSec * 1000 })
      .catch((error: unknown) => {
        // The task was accepted all the same: a script still learns its id.
        if (isJson) out(JSON.stringify({ assignment }, null, 2));
        throw error;
      });
    const task = done.task;
    if (!task) return 1;
    if (isJson) out(JSON.stringify({ assignment, task: documentOf(TaskSchema, task) }, null, 2));
    else {
      out(
        `task ${response.taskId} ${TaskState[task.state].toLowerCase()} on ${task.workerId} after ${task.attempt} attempt(s)`,
      );
      if (task.state === TaskState.SUCCEEDED) out(new TextDecoder().decode(task.output));
      else out(`error: ${task.error}`);
    }
    return task.state === TaskState.SUCCEEDED ? 0 : 1;
  } finally {
    client.close();
  }
}
