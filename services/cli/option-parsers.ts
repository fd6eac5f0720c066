// How the CLI checks option values. A parser throws commander's
// InvalidArgumentError (exit 2, the option named); a check across options
// throws CliUsageError (the same exit code and style).
import { InvalidArgumentError, Option } from "commander";
import { CliUsageError } from "./usage-error.js";

export function integer(option: string, min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(
        `${option} must be an integer from ${min} to ${max}, got "${value}"`,
      );
    return n;
  };
}

export function positive(option: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!(n > 0))
      throw new InvalidArgumentError(`${option} must be a number above 0, got "${value}"`);
    return n;
  };
}

/** A number of seconds within [minSec, maxSec], fractions allowed. */
export function seconds(option: string, minSec: number, maxSec: number) {
  return (value: string): number => {
    const n = value.trim() === "" ? Number.NaN : Number(value);
    if (!(n >= minSec && n <= maxSec))
      throw new InvalidArgumentError(
        `${option} must be a number of seconds from ${minSec} to ${maxSec}, got "${value}"`,
      );
    return n;
  };
}

export const collect = (value: string, previous: string[]): string[] => [...previous, value];

export type OutputFormat = "json" | "table";

export function outputFormat(value: string): OutputFormat {
  if (value === "json" || value === "table") return value;
  throw new InvalidArgumentError(`--output must be json or table, got "${value}"`);
}

/** `--json` is kept as the short form of `--output json`. */
export function chosenOutput(opts: { output?: OutputFormat; json?: boolean }): OutputFormat {
  if (opts.json && opts.output === "table")
    throw new CliUsageError("--json is short for --output json: give one of them");
  return opts.json ? "json" : (opts.output ?? "table");
}

export const DEFAULT_WATCH_INTERVAL_SEC = 2;
export const parseInterval = seconds("--interval", 0.2, 3600);

/** Undefined without --watch; --interval alone is a mistake, not silently ignored. */
export function chosenWatch(opts: {
  watch?: boolean;
  interval?: number;
}): { readonly intervalSec: number } | undefined {
  if (!opts.watch) {
    if (opts.interval !== undefined) throw new CliUsageError("--interval goes with --watch");
    return undefined;
  }
  return { intervalSec: opts.interval ?? DEFAULT_WATCH_INTERVAL_SEC };
}

/** --output and its short form --json, for every command that prints data. */
export function outputOptions(): [Option, Option] {
  return [
    new Option("--output <format>", "json or table (default table)").argParser(outputFormat),
    new Option("--json", "short for --output json"),
  ];
}

/** --watch and --interval, for the commands that read. */
export function watchOptions(): Option[] {
  return [
    new Option("--watch", "read again every --interval seconds until Ctrl-C"),
    new Option(
      "--interval <sec>",
      `seconds between readings with --watch (default ${DEFAULT_WATCH_INTERVAL_SEC}, 0.2 to 3600)`,
    ).argParser(parseInterval),
  ];
}

export const DEFAULT_WAIT_TIMEOUT_SEC = 300;
export const WAIT_POLL_MS = 500;

/** --wait (the default), --no-wait and --wait-timeout, for the commands that wait for an outcome. */
export function waitOptions(what: string): Option[] {
  return [
    new Option("--wait", `wait until ${what}, showing progress on a terminal (the default)`),
    new Option("--no-wait", "return once the coordinator has accepted the request"),
    new Option(
      "--wait-timeout <sec>",
      `how long to wait (default ${DEFAULT_WAIT_TIMEOUT_SEC})`,
    ).argParser(positive("--wait-timeout")),
  ];
}

/** Undefined with --no-wait; --wait-timeout with --no-wait is a contradiction, said as one. */
export function chosenWait(opts: {
  wait?: boolean;
  waitTimeout?: number;
}): { readonly timeoutMs: number; readonly pollMs: number } | undefined {
  if (opts.wait === false) {
    if (opts.waitTimeout !== undefined)
      throw new CliUsageError("--wait-timeout goes with waiting, not with --no-wait");
    return undefined;
  }
  return { timeoutMs: (opts.waitTimeout ?? DEFAULT_WAIT_TIMEOUT_SEC) * 1000, pollMs: WAIT_POLL_MS };
}
