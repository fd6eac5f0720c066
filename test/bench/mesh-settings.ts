// The scalemesh settings a bench run used, read from the option catalog (the
// default, or the SCALEMESH_* variable that overrides it), so the printed
// figures say what they were measured with.
import { CONFIG_OPTIONS } from "../../libs/config/index.js";

/** The value in force for an option key ("scaling.heartbeat_timeout_sec"), or undefined when this build has no such option. */
export function optionInForce(key: string): string | undefined {
  const option = CONFIG_OPTIONS.find((o) => o.key === key);
  if (option === undefined) return undefined;
  const fromEnv = process.env[option.envName];
  return fromEnv ?? `${String(option.defaultValue)} (default)`;
}

/** "key value, key value" for the options this build has. */
export function describeOptions(keys: readonly string[]): string {
  return keys
    .map((key) => [key, optionInForce(key)] as const)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => `${key} ${value}`)
    .join(", ");
}

export const FAILURE_DETECTION_KEYS = [
  "coordinator.heartbeat_interval_sec",
  "scaling.heartbeat_timeout_sec",
  "coordinator.reconnect_grace_sec",
  "coordinator.retry_backoff_base_ms",
] as const;
