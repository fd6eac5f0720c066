// The commands that talk to the coordinator's Admin API: status, workers,
// tasks, scale, drain, cordon, uncordon, cancel, retry, purge. Here each
// command's options are declared and checked against one another; its own
// module gets plain, checked values.
import { Option, type Command } from "commander";
import type { AdminTarget } from "./admin-client.js";
import { drain } from "./drain-command.js";
import {
  cordonAction,
  parseAge,
  parseTaskState,
  readTasks,
  taskAction,
} from "./operator-commands.js";
import {
  chosenOutput,
  chosenWait,
  chosenWatch,
  integer,
  outputOptions,
  positive,
  waitOptions,
  watchOptions,
  type OutputFormat,
} from "./option-parsers.js";
import { stderrProgress } from "./progress.js";
import { purgeTasks } from "./purge-command.js";
import { readScalingHistory, readScalingStatus, scale } from "./scale-command.js";
import { showView, type ReadView } from "./show-view.js";
import { readStatus, readWorkers } from "./status-command.js";
import { CliUsageError } from "./usage-error.js";

interface TargetOpts {
  readonly coordinator: string;
  readonly timeout: number;
}
interface OutputOpts {
  readonly output?: OutputFormat;
  readonly json?: boolean;
}
interface WatchOpts {
  readonly watch?: boolean;
  readonly interval?: number;
}
interface WaitOpts {
  readonly wait?: boolean;
  readonly waitTimeout?: number;
}

const targetOf = (opts: TargetOpts): AdminTarget => ({
  coordinator: opts.coordinator,
  timeoutMs: opts.timeout * 1000,
});

export function addAdminCommands(
  program: Command,
  defaultCoordinator: string,
  out: (text: string) => void,
): void {
  const adminCommand = (name: string, description: string, ...options: Option[]): Command => {
    const command = program
      .command(name)
      .description(description)
      .addOption(
        new Option("--coordinator <uri>", "where the coordinator is").default(defaultCoordinator),
      )
      .addOption(
        new Option("--timeout <sec>", "deadline for each call")
          .default(10)
          .argParser(positive("--timeout")),
      );
    for (const option of options) command.addOption(option);
    return command;
  };
  adminCommand(
    "status",
    "the cluster at a glance: workers, slots, tasks by state, the autoscaler",
    ...outputOptions(),
    ...watchOptions(),
  ).action(async (opts: TargetOpts & OutputOpts & WatchOpts) => {
    await showAdminView("scalemesh status", opts, out, (client, signal) =>
      readStatus(client, opts.coordinator, signal),
    );
  });

  adminCommand(
    "workers",
    "every registered worker with its state and load",
    new Option("--all", "include workers declared dead"),
    ...outputOptions(),
    ...watchOptions(),
  ).action(async (opts: TargetOpts & OutputOpts & WatchOpts & { all?: boolean }) => {
    await showAdminView("scalemesh workers", opts, out, (client, signal) =>
      readWorkers(client, opts.all ?? false, signal),
    );
  });

  adminCommand(
    "tasks",
    "tasks in the ledger, filtered by state, worker and age",
    new Option(
      "--state <state>",
      "pending, assigned, running, succeeded, failed, dead_lettered or cancelled",
    ),
    new Option("--worker <id>", "only tasks of this worker"),
    new Option("--older-than <age>", "only tasks created longer ago than this (90s, 15m, 2h, 7d)"),
    new Option("--limit <n>", "at most this many")
      .default(100)
      .argParser(integer("--limit", 1, 1000)),
    ...outputOptions(),
    ...watchOptions(),
  ).action(
    async (
      opts: TargetOpts &
        OutputOpts &
        WatchOpts & { state?: string; worker?: string; olderThan?: string; limit: number },
    ) => {
      const filter = {
        state: opts.state === undefined ? undefined : parseTaskState(opts.state),
        workerId: opts.worker,
        olderThanMs:
          opts.olderThan === undefined ? undefined : parseAge(opts.olderThan, "--older-than"),
        limit: opts.limit,
      };
      await showAdminView("scalemesh tasks", opts, out, (client, signal) =>
        readTasks(client, filter, signal),
      );
    },
  );

  adminCommand(
    "scale [workers]",
    "the autoscaler: status; a manual worker count (switches autoscaling off) and waiting until it is reached; --auto to switch it back on; --history for its decisions",
    new Option("--auto", "switch autoscaling on (drops a manual target)"),
    new Option("--off", "switch autoscaling off (the fleet stays as it is)"),
    new Option("--history [n]", "the last n decisions (default 20)").argParser(
      integer("--history", 1, 1000),
    ),
    ...outputOptions(),
    ...watchOptions(),
    ...waitOptions("the fleet has WORKERS ready workers"),
  ).action(
    async (
      workers: string | undefined,
      opts: TargetOpts &
        OutputOpts &
        WatchOpts &
        WaitOpts & { auto?: boolean; off?: boolean; history?: number | true },
    ) => {
      await scaleAction(workers, opts, out);
    },
  );

  adminCommand(
    "drain <worker-id>",
    "the worker takes nothing new, finishes what it runs, then leaves; waits until it has left",
    ...outputOptions(),
    ...waitOptions("the worker has left"),
  ).action(async (workerId: string, opts: TargetOpts & OutputOpts & WaitOpts) => {
    await drain(
      targetOf(opts),
      { workerId, format: chosenOutput(opts), wait: chosenWait(opts) },
      out,
      stderrProgress(),
    );
  });

  for (const action of ["cordon", "uncordon"] as const)
    adminCommand(
      `${action} <worker-id>`,
      action === "cordon"
        ? "the worker takes nothing new but stays (until uncordon)"
        : "the worker takes tasks again",
      ...outputOptions(),
    ).action(async (workerId: string, opts: TargetOpts & OutputOpts) => {
      await cordonAction(targetOf(opts), action, workerId, chosenOutput(opts), out);
    });

  adminCommand(
    "cancel <task-id>",
    "cancel a task that is not final; a running attempt is stopped on its worker",
    new Option("--reason <text>", "why (kept in the task's history)").default(
      "cancelled by an operator",
    ),
    ...outputOptions(),
  ).action(async (taskId: string, opts: TargetOpts & OutputOpts & { reason: string }) => {
    await taskAction(
      targetOf(opts),
      "cancel",
      { taskId, reason: opts.reason, format: chosenOutput(opts) },
      out,
    );
  });

  adminCommand(
    "retry <task-id>",
    "run a dead-lettered or cancelled task again with a fresh set of attempts",
    ...outputOptions(),
  ).action(async (taskId: string, opts: TargetOpts & OutputOpts) => {
    await taskAction(
      targetOf(opts),
      "retry",
      { taskId, reason: "", format: chosenOutput(opts) },
      out,
    );
  });

  adminCommand(
    "purge",
    "delete final tasks that finished longer ago than --older-than, showing the count as it goes",
    new Option(
      "--older-than <age>",
      "finished longer ago than this (90s, 15m, 2h, 7d)",
    ).makeOptionMandatory(),
    ...outputOptions(),
  ).action(async (opts: TargetOpts & OutputOpts & { olderThan: string }) => {
    await purgeTasks(
      targetOf(opts),
      { olderThanMs: parseAge(opts.olderThan, "--older-than"), format: chosenOutput(opts) },
      out,
      stderrProgress(),
    );
  });
}

function showAdminView(
  title: string,
  opts: TargetOpts & OutputOpts & WatchOpts,
  out: (text: string) => void,
  read: ReadView,
): Promise<void> {
  return showView(
    { target: targetOf(opts), format: chosenOutput(opts), watch: chosenWatch(opts), title },
    read,
    out,
  );
}

async function scaleAction(
  workers: string | undefined,
  opts: TargetOpts &
    OutputOpts &
    WatchOpts &
    WaitOpts & { auto?: boolean; off?: boolean; history?: number | true },
  out: (text: string) => void,
): Promise<void> {
  const chosen = [
    workers !== undefined,
    opts.auto === true,
    opts.off === true,
    opts.history !== undefined,
  ].filter(Boolean).length;
  if (chosen > 1) throw new CliUsageError("scale: give one of WORKERS, --auto, --off or --history");
  const format = chosenOutput(opts);
  const target = targetOf(opts);
  const isWaitGiven = opts.wait !== undefined || opts.waitTimeout !== undefined;
  if (workers === undefined && isWaitGiven)
    throw new CliUsageError("scale: --wait, --no-wait and --wait-timeout go with WORKERS");
  if (workers !== undefined || opts.auto || opts.off) {
    if (opts.watch)
      throw new CliUsageError(
        "scale: --watch goes with the status or --history; scale WORKERS waits until the fleet has them by itself",
      );
    chosenWatch(opts); // --interval without --watch is still a mistake
    if (workers === undefined)
      return scale(
        target,
        { kind: "auto", isEnabled: opts.auto === true },
        { format, wait: undefined },
        out,
        stderrProgress(),
      );
    if (!/^\d+$/.test(workers) || Number(workers) > 100_000)
      throw new CliUsageError(`scale: WORKERS must be a whole number, got "${workers}"`);
    return scale(
      target,
      { kind: "target", workers: Number(workers) },
      { format, wait: chosenWait(opts) },
      out,
      stderrProgress(),
    );
  }
  if (opts.history !== undefined) {
    const limit = opts.history === true ? 20 : opts.history;
    return showAdminView("scalemesh scale --history", opts, out, (client, signal) =>
      readScalingHistory(client, limit, signal),
    );
  }
  return showAdminView("scalemesh scale", opts, out, (client, signal) =>
    readScalingStatus(client, signal),
  );
}
