// Streams a load sample to the optimizer every sync interval (Optimizer.Observe).
// The optimizer is advisory: when it is down, samples are dropped, the
// coordinator keeps working, and the stream is reopened with backoff.
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { Logger } from "pino";
import { Optimizer, type ObserveRequestSchema } from "../../libs/contracts/index.js";
import { createAsyncQueue, createRpcClient, type AsyncQueue } from "../../libs/rpc/index.js";
import type { Coordinator } from "./coordinator.js";

type Sample = MessageInitShape<typeof ObserveRequestSchema>;

export interface LoadReporter {
  stop(): void;
}

export function startLoadReporter(
  coordinator: Coordinator,
  options: { optimizerAddress: string; intervalMs: number; logger: Logger },
): LoadReporter {
  // optimizerAddress may be a discovery URI: the channel follows it.
  const client = createRpcClient(Optimizer, options.optimizerAddress, { logger: options.logger });
  let stream: AsyncQueue<Sample> | undefined;
  let stopped = false;
  let lastWarnMs = 0;
  let lastMs = Date.now();

  const open = (): void => {
    const queue = createAsyncQueue<Sample>();
    stream = queue;
    client.observe(queue).then(
      () => {
        if (stream === queue) stream = undefined;
      },
      (error: unknown) => {
        if (stream === queue) stream = undefined;
        // Say it at most once a minute, and keep trying: the optimizer is optional.
        if (!stopped && Date.now() - lastWarnMs > 60_000) {
          lastWarnMs = Date.now();
          options.logger.warn(
            {
              optimizer: options.optimizerAddress,
              err: error instanceof Error ? error.message : String(error),
            },
            "optimizer unreachable; load samples dropped until it answers",
          );
        }
      },
    );
  };

  const sample = (): void => {
    const now = Date.now();
    const elapsedSec = Math.max(0.001, (now - lastMs) / 1000);
    lastMs = now;
    const counts = coordinator.workerCounts();
    const rates = coordinator.takeRates();
    const workers = coordinator.listWorkers(false);
    const meanCpu =
      workers.length === 0
        ? 0
        : workers.reduce((sum, w) => sum + w.cpuUtilization, 0) / workers.length;
    if (!stream) open();
    stream?.push({
      sample: {
        observedAt: timestampFromMs(now),
        workers: counts.alive + counts.draining,
        totalSlots: counts.totalSlots,
        busySlots: Math.min(counts.busySlots, counts.totalSlots),
        pendingTasks: coordinator.pendingCount,
        meanCpuUtilization: meanCpu,
        arrivalRatePerSec: rates.accepted / elapsedSec,
        completionRatePerSec: rates.finished / elapsedSec,
      },
    });
  };

  const timer = setInterval(sample, options.intervalMs);
  return {
    stop() {
      stopped = true;
      clearInterval(timer);
      stream?.close();
      client.close();
    },
  };
}
