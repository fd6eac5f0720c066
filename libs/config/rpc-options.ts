// The rpc section as the option names libs/rpc takes, so every service maps it the same way.
import type { Config } from "./schema.js";

export interface RpcOptions {
  readonly maxMessageBytes: number;
  readonly keepaliveTimeMs: number;
  readonly keepaliveTimeoutMs: number;
  readonly shutdownGraceMs: number;
  readonly defaultDeadlineMs: number;
  readonly maxStreamsPerConnection: number;
}

export function rpcOptionsOf(rpc: Config["rpc"]): RpcOptions {
  return {
    maxMessageBytes: rpc.max_message_bytes,
    keepaliveTimeMs: rpc.keepalive_time_ms,
    keepaliveTimeoutMs: rpc.keepalive_timeout_ms,
    shutdownGraceMs: rpc.shutdown_grace_sec * 1000,
    defaultDeadlineMs: rpc.default_deadline_ms,
    maxStreamsPerConnection: rpc.max_streams_per_connection,
  };
}
