// What the coordinator is configured with (main.ts maps the config onto it).
import type { StrategyName, StrategyOptions } from "../../libs/balancing/index.js";
import type { BackoffPolicy } from "../../libs/ledger/index.js";

export interface CoordinatorSettings {
  readonly heartbeatIntervalMs: number;
  readonly heartbeatTimeoutMs: number;
  readonly reconnectGraceMs: number;
  /** After a restart: how long workers have to come back and claim their tasks. */
  readonly recoveryGraceMs: number;
  readonly maxPendingTasks: number;
  readonly defaultMaxAttempts: number;
  readonly defaultTaskTimeoutMs: number;
  readonly deadWorkerRetentionMs: number;
  readonly isFailureDetectionEnabled: boolean;
  readonly strategy: StrategyName;
  readonly strategyOptions?: Partial<StrategyOptions>;
  readonly retryBackoff: BackoffPolicy;
}

export interface Clock {
  /** Wall clock, epoch ms. */
  now(): number;
  /** A clock that only moves forward (performance.now() by default); a fake clock without it drives both. */
  monotonicNow?(): number;
}
