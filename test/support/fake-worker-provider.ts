// An in-memory WorkerProvider for the autoscaling loop's unit tests: it keeps
// what it "runs" in a map, records every call, and lets a test say what the
// platform does next (a worker fails or exits, a list or a stop is refused).
// Ids follow the local provider's shape (<prefix>-<n>, never reused), and a
// stopped worker disappears from list() as a stopped child or a removed
// container does.
import { LOCAL_CAPABILITIES } from "../../services/coordinator/providers/local-provider.js";
import type {
  ProvidedState,
  ProvidedWorker,
  ProviderCapabilities,
  ProviderKind,
  WorkerHealth,
  WorkerProvider,
} from "../../services/coordinator/providers/worker-provider.js";

export interface FakeProviderCalls {
  /** The count of each start() call. */
  readonly start: number[];
  /** The ids of each stop() call, refused ones included. */
  readonly stop: string[][];
  readonly replace: string[];
  list: number;
}

export interface FakeWorkerProvider extends WorkerProvider {
  readonly calls: FakeProviderCalls;
  /** Seeds a worker or changes what the platform says about it. */
  set(workerId: string, state: ProvidedState, detail?: string): void;
  /** The platform forgets the worker (a pod deleted by someone else). */
  vanish(workerId: string): void;
  /** The next list() rejects with this error. */
  failNextList(error: Error): void;
  /** The next start() rejects with this error. */
  failNextStart(error: Error): void;
  /** The next `times` stop() calls naming this worker reject with this error. */
  refuseStop(workerId: string, error: Error, times?: number): void;
  /** Every stop() id, flattened, in call order. */
  stoppedIds(): string[];
}

export interface FakeWorkerProviderOptions {
  readonly kind?: ProviderKind;
  /** Local's by default. */
  readonly capabilities?: ProviderCapabilities;
  readonly idPrefix?: string;
  /** Told of each worker a successful stop() removed (a test fleet deregisters it). */
  readonly onStopped?: (workerId: string) => void;
}

export function createFakeWorkerProvider(
  options: FakeWorkerProviderOptions = {},
): FakeWorkerProvider {
  const prefix = options.idPrefix ?? "w";
  const workers = new Map<string, ProvidedWorker>();
  const calls: FakeProviderCalls = { start: [], stop: [], replace: [], list: 0 };
  const listErrors: Error[] = [];
  const startErrors: Error[] = [];
  const stopRefusals = new Map<string, { error: Error; times: number }>();
  let lastNumber = 0;

  const set = (workerId: string, state: ProvidedState, detail = state): void => {
    workers.set(workerId, { workerId, state, detail });
    // Seeded ids count too, so started ones never collide with them.
    const number = Number(workerId.slice(prefix.length + 1));
    if (workerId.startsWith(`${prefix}-`) && Number.isInteger(number))
      lastNumber = Math.max(lastNumber, number);
  };

  return {
    kind: options.kind ?? "local",
    capabilities: options.capabilities ?? LOCAL_CAPABILITIES,
    calls,
    set,
    vanish: (workerId) => void workers.delete(workerId),
    failNextList: (error) => void listErrors.push(error),
    failNextStart: (error) => void startErrors.push(error),
    refuseStop: (workerId, error, times = 1) => void stopRefusals.set(workerId, { error, times }),
    stoppedIds: () => calls.stop.flat(),
    list: async () => {
      calls.list += 1;
      const error = listErrors.shift();
      if (error) throw error;
      return [...workers.values()];
    },
    start: async (count) => {
      calls.start.push(count);
      const error = startErrors.shift();
      if (error) throw error;
      const ids: string[] = [];
      for (let i = 0; i < count; i += 1) {
        const workerId = `${prefix}-${(lastNumber += 1)}`;
        workers.set(workerId, { workerId, state: "starting", detail: "created" });
        ids.push(workerId);
      }
      return ids;
    },
    stop: async (workerIds) => {
      calls.stop.push([...workerIds]);
      for (const id of workerIds) {
        const refusal = stopRefusals.get(id);
        if (refusal === undefined) continue;
        refusal.times -= 1;
        if (refusal.times <= 0) stopRefusals.delete(id);
        throw refusal.error;
      }
      for (const id of workerIds) {
        if (!workers.delete(id)) continue;
        options.onStopped?.(id);
      }
    },
    replace: async (workerId) => {
      calls.replace.push(workerId);
      workers.set(workerId, { workerId, state: "starting", detail: "replaced" });
    },
    health: async (workerId): Promise<WorkerHealth> => {
      const worker = workers.get(workerId);
      if (worker === undefined) return "gone";
      if (worker.state === "running") return "healthy";
      return worker.state === "starting" ? "unknown" : "unhealthy";
    },
    close: async () => {},
  };
}
