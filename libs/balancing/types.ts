// The plain data the placement stack decides over. No I/O, no clocks here.

export type WorkerCondition = "alive" | "suspect" | "draining" | "cordoned" | "dead";

/** One worker as a balancer or the coordinator sees it. */
export interface WorkerCandidate {
  readonly workerId: string;
  readonly address: string;
  readonly region: string;
  readonly zone: string;
  readonly capabilities: readonly string[];
  readonly slots: number;
  /** Tasks placed on it and not finished (ASSIGNED + RUNNING). */
  readonly inFlight: number;
  readonly condition: WorkerCondition;
}

/** What the task asks of a worker. */
export interface PlacementRequest {
  readonly taskId: string;
  readonly routingKey: string;
  readonly requiredCapabilities: readonly string[];
  readonly preferredRegion: string;
}

/** Why a worker was not a candidate. */
export const FilterReason = {
  NotAlive: "NotAlive",
  Draining: "Draining",
  Cordoned: "Cordoned",
  NoFreeSlot: "NoFreeSlot",
  MissingCapability: "MissingCapability",
} as const;
export type FilterReason = (typeof FilterReason)[keyof typeof FilterReason];

export interface Rejection {
  readonly workerId: string;
  readonly reason: FilterReason;
  readonly detail: string;
}

export interface RankedCandidate {
  readonly worker: WorkerCandidate;
  /** Higher is better; the strategy says what it means. */
  readonly score: number;
}

/** A strategy's answer: candidates best first, and what it did, for the response's reason. */
export interface Ranking {
  readonly strategy: string;
  readonly ranked: readonly RankedCandidate[];
  readonly rejected: readonly Rejection[];
}

/** A random source in [0, 1): Math.random in services, seeded in tests and simulators. */
export type RandomSource = () => number;
