// The plain data the placement stack decides over. No I/O, no clocks here:
// time (nowMs) and randomness (RandomSource) come in with each decision.

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
  /** Free-form worker labels; `specializations` is a comma list of task types it is best at. */
  readonly labels?: Readonly<Record<string, string>>;
  readonly registeredAtMs?: number;
}

/**
 * What the task asks of a worker. Every field is required, so a hand-made
 * request that forgets a constraint does not compile: build one with
 * placementRequestOf (placement-request.ts), the one translation from the wire.
 */
export interface PlacementRequest {
  /** Empty when only asking (Route): hashing then has no task id to fall back on. */
  readonly taskId: string;
  readonly routingKey: string;
  readonly requiredCapabilities: readonly string[];
  /** A preference, not a constraint (region_aware orders by it). */
  readonly preferredRegion: string;
  /** The kind of task, for affinity; empty = no preference. */
  readonly taskType: string;
  /** Hard constraints: a worker elsewhere is not a candidate. Empty = anywhere. */
  readonly requiredRegion: string;
  readonly requiredZone: string;
}

/** What the balancer/coordinator knows of a worker beyond the view. */
export interface WorkerHealth {
  /** 0..1, 1 = healthy. */
  readonly score: number;
  readonly circuit: "closed" | "open" | "half_open";
  /** Finagle/tower peak EWMA of task latency. */
  readonly peakEwmaLatencyMs: number;
  /** 0..1 (1 = fully ramped). */
  readonly slowStartWeight: number;
  /** Short-term forecast of its load (tasks in flight), if any. */
  readonly forecastInFlight?: number;
}

/** What a worker with no health record is taken to be. */
export const HEALTHY_DEFAULTS: WorkerHealth = {
  score: 1,
  circuit: "closed",
  peakEwmaLatencyMs: 0,
  slowStartWeight: 1,
};

export function healthOrDefault(
  health: ReadonlyMap<string, WorkerHealth>,
  workerId: string,
): WorkerHealth {
  return health.get(workerId) ?? HEALTHY_DEFAULTS;
}

/** Everything a strategy may use besides the feasible workers and the request. */
export interface PlacementContext {
  readonly nowMs: number;
  readonly random: RandomSource;
  /** Missing = healthy defaults (HEALTHY_DEFAULTS). */
  readonly health: ReadonlyMap<string, WorkerHealth>;
  /** Workers that pass every filter except free capacity, for strategies whose choice must not move when a worker fills up (hashing). */
  readonly eligible: readonly WorkerCandidate[];
  /**
   * Only the best `limit` are wanted (Assign tries a few, Route shows four): a
   * strategy may return just those, the same ones its full ranking puts first.
   * Undefined: every feasible worker.
   */
  readonly limit?: number;
}

/** Why a worker was not a candidate. */
export const FilterReason = {
  NotAlive: "NotAlive",
  Draining: "Draining",
  Cordoned: "Cordoned",
  NoFreeSlot: "NoFreeSlot",
  MissingCapability: "MissingCapability",
  WrongRegion: "WrongRegion",
  WrongZone: "WrongZone",
  CircuitOpen: "CircuitOpen",
  ProbeInFlight: "ProbeInFlight",
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
  /** Why it sits where it does, in words (affinity match, failover, ...). */
  readonly note?: string;
}

/** A strategy's answer: candidates best first, and what it did, for the response's reason. */
export interface Ranking {
  readonly strategy: string;
  readonly ranked: readonly RankedCandidate[];
  readonly rejected: readonly Rejection[];
  /** The first candidate's note, when the strategy gave one. */
  readonly reason?: string;
  /** What the decision was made over, so a commit records exactly that (PlacementStack.commit). */
  readonly decision: PlacementDecision;
}

/** The inputs of one ranking, kept with it for the commit that may follow. */
export interface PlacementDecision {
  readonly request: PlacementRequest;
  readonly nowMs: number;
  readonly feasible: readonly WorkerCandidate[];
  readonly eligible: readonly WorkerCandidate[];
}

/** A placement that was committed (Place succeeded): the only moment a strategy may change its state. */
export interface CommittedPlacement extends PlacementDecision {
  readonly workerId: string;
}

/** A random source in [0, 1): Math.random in services, seeded in tests and simulators. */
export type RandomSource = () => number;
