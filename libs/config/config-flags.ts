// Command-line flags as a config layer: `--section.key=value`,
// `--section.key value` (dashes allowed in the key) and `--config FILE`.
// Service mains split these off with extractConfigFlags and parse the rest
// themselves.
import type { ConfigIssue } from "./config-issue.js";
import type { ConfigLayer, LayerEntry } from "./config-layer.js";
import { coerceOptionText, combineOptionValues } from "./coerce-value.js";
import { findOption } from "./option-catalog.js";
import { describeUnknownKey } from "./unknown-key.js";

export const CONFIG_FILE_FLAG = "--config";

/** --section.key or --section.key=value; the key may use dashes for underscores. */
const DOTTED_FLAG = /^--([a-z][\w-]*\.[\w.-]+)(?:=(.*))?$/is;
const BOOLEAN_TEXT = /^(true|false|1|0)$/i;

interface ConfigFlag {
  /** --config names the file; every other config flag sets an option. */
  readonly kind: "config_file" | "option";
  /** As written, without "=value": "--scaling.min-workers", "--config". */
  readonly flag: string;
  /** "section.key" with dashes as underscores; "config" for --config. */
  readonly key: string;
  /** undefined when the flag had no value. */
  readonly text: string | undefined;
  /** The argv items this flag used (one or two). */
  readonly args: readonly string[];
}

/** Reads one config flag at argv[index], or undefined if that item is not one. */
function readConfigFlag(argv: readonly string[], index: number): ConfigFlag | undefined {
  const arg = argv[index] ?? "";
  const next = argv[index + 1];
  const hasNextValue = next !== undefined && !next.startsWith("--");
  const configFile = { kind: "config_file", flag: CONFIG_FILE_FLAG, key: "config" } as const;
  if (arg === CONFIG_FILE_FLAG) {
    return hasNextValue
      ? { ...configFile, text: next, args: [arg, next] }
      : { ...configFile, text: undefined, args: [arg] };
  }
  if (arg.startsWith(`${CONFIG_FILE_FLAG}=`)) {
    return { ...configFile, text: arg.slice(CONFIG_FILE_FLAG.length + 1), args: [arg] };
  }
  const match = DOTTED_FLAG.exec(arg);
  if (match === null) return undefined;
  const [, written = "", inlineText] = match;
  const option = {
    kind: "option",
    flag: `--${written}`,
    key: written.replaceAll("-", "_"),
  } as const;
  if (inlineText !== undefined) return { ...option, text: inlineText, args: [arg] };
  // A bare boolean flag means true; it takes the next item only if that is a boolean.
  if (findOption(option.key)?.kind === "boolean") {
    return next !== undefined && BOOLEAN_TEXT.test(next)
      ? { ...option, text: next, args: [arg, next] }
      : { ...option, text: "true", args: [arg] };
  }
  return hasNextValue
    ? { ...option, text: next, args: [arg, next] }
    : { ...option, text: undefined, args: [arg] };
}

function splitArgv(argv: readonly string[]): { flags: ConfigFlag[]; rest: string[] } {
  const flags: ConfigFlag[] = [];
  const rest: string[] = [];
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index] ?? "";
    if (arg === "--") {
      rest.push(...argv.slice(index));
      break;
    }
    const flag = readConfigFlag(argv, index);
    if (flag === undefined) {
      rest.push(arg);
      continue;
    }
    flags.push(flag);
    index += flag.args.length - 1;
  }
  return { flags, rest };
}

/** Splits argv into the config flags (for loadConfig) and the rest (for the service's own parser). */
export function extractConfigFlags(argv: readonly string[]): {
  configArgs: string[];
  rest: string[];
} {
  const { flags, rest } = splitArgv(argv);
  return { configArgs: flags.flatMap((flag) => flag.args), rest };
}

export interface FlagLayer extends ConfigLayer {
  /** From --config, if given. */
  readonly configFile: { readonly path: string; readonly source: string } | undefined;
}

function flagIssue(flag: ConfigFlag): ConfigIssue | undefined {
  const source = `flag ${flag.flag}`;
  if (flag.text === undefined) {
    const allowed =
      flag.kind === "config_file"
        ? "a file path after --config"
        : `a value: ${flag.flag}=<value> or ${flag.flag} <value>`;
    return { kind: "invalid_value", key: flag.key, value: undefined, allowed, source };
  }
  if (flag.kind === "option" && findOption(flag.key) === undefined) {
    return {
      kind: "unknown_key",
      key: flag.key,
      value: flag.text,
      allowed: describeUnknownKey(flag.key, (option) => option.flagName),
      source,
    };
  }
  return undefined;
}

/** Reads argv that holds only config flags; anything else is reported. */
export function readFlagLayer(argv: readonly string[]): FlagLayer {
  const { flags, rest } = splitArgv(argv);
  const issues: ConfigIssue[] = rest.map((arg) => ({
    kind: "unknown_key",
    key: arg,
    value: arg,
    allowed: "only config flags here: --section.key=value, --section.key value or --config FILE",
    source: `flag ${arg}`,
  }));
  const entriesByKey = new Map<string, LayerEntry>();
  const sources: string[] = [];
  let configFile: FlagLayer["configFile"];
  for (const flag of flags) {
    const issue = flagIssue(flag);
    if (issue !== undefined) {
      issues.push(issue);
      continue;
    }
    const text = flag.text ?? "";
    const source = `flag ${flag.flag}`;
    sources.push(source);
    if (flag.kind === "config_file") {
      configFile = { path: text, source };
      continue;
    }
    const option = findOption(flag.key);
    if (option === undefined) continue; // reported by flagIssue
    // Repeating a flag appends to a list and merges a map: --worker.capabilities gpu --worker.capabilities avx.
    const earlier = entriesByKey.get(option.key);
    const value = coerceOptionText(option.kind, text);
    entriesByKey.set(
      option.key,
      earlier === undefined
        ? { key: option.key, value, raw: text, source }
        : {
            key: option.key,
            value: combineOptionValues(option.kind, earlier.value, value),
            raw: text,
            source,
          },
    );
  }
  return { entries: [...entriesByKey.values()], issues, sources, configFile };
}
