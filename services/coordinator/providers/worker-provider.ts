// Where worker agents run, behind one interface: the autoscaling loop says
// how many and which, a provider makes it so on its platform. Every worker a
// provider starts registers with the coordinator under the id the provider
// gave it (or, on Kubernetes, its pod name), so the loop can match what the
// provider runs with what has joined. What the loop may ask of a provider is
// data the provider declares (its capabilities), never a branch on its kind.

export type ProviderKind = "local" | "docker" | "kubernetes" | "external";

export type ProvidedState = "starting" | "running" | "stopping" | "exited" | "failed";

export interface ProvidedWorker {
  /** The worker id it registers with (local and docker: chosen by us; kubernetes: the pod name). */
  readonly workerId: string;
  readonly state: ProvidedState;
  /** The platform's words: an exit code, a container status, a pod phase and reason. */
  readonly detail: string;
  readonly startedAtMs?: number;
}

export type WorkerHealth = "healthy" | "unhealthy" | "unknown" | "gone";

/** What the autoscaling loop may ask of a provider, and how it takes workers away. */
export interface ProviderCapabilities {
  /** It brings workers into being: start(n) for a scale-up, replace(id) for a recovery. */
  readonly canStart: boolean;
  /** It takes workers away: stop(ids) for a scale-down, a start that never registered, a worker that exited. */
  readonly canStop: boolean;
  /**
   * When a worker chosen for removal is handed to stop(). "after-drain": once
   * it has drained and left (or overran drain_timeout_sec), since stop() ends
   * the process outright. "with-drain": at once, since the platform would
   * restart an agent that ends by itself (a kubelet does) and its own stop is
   * graceful (SIGTERM, then the agent finishes its tasks in the grace period).
   */
  readonly stopOnScaleDown: "after-drain" | "with-drain";
}

export interface WorkerProvider {
  /** For logs and the status line only: the loop decides from `capabilities`. */
  readonly kind: ProviderKind;
  /** What the autoscaling loop may ask of it. */
  readonly capabilities: ProviderCapabilities;
  /** What the provider runs now, starting ones included. */
  list(): Promise<readonly ProvidedWorker[]>;
  /**
   * Starts `count` more workers and returns their ids (kubernetes: the
   * replica count is raised and the ids are known once pods exist, so it may
   * return fewer). Rejects with an Error naming what failed; never logs secrets.
   */
  start(count: number): Promise<readonly string[]>;
  /**
   * Removes these workers, which the coordinator has already drained:
   * local and docker stop them; kubernetes marks them cheapest to delete
   * (controller.kubernetes.io/pod-deletion-cost) and lowers the replica count.
   */
  stop(workerIds: readonly string[]): Promise<void>;
  /** Brings a dead worker back (recovery): local and docker start it again under its id, kubernetes deletes the failed pod. */
  replace(workerId: string): Promise<void>;
  /** The platform's own view of one worker. */
  health(workerId: string): Promise<WorkerHealth>;
  /** Stops watching; local stops its children (after the coordinator drained them). */
  close(): Promise<void>;
}
