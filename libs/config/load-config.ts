// Loads the configuration: defaults < YAML file < SCALEMESH_* environment <
// flags, later wins per option. Returns every problem at once instead of
// throwing, so a service can print them all and exit 2.
import { configHelp } from "./config-help.js";
import type { z } from "zod";
import { readFlagLayer } from "./config-flags.js";
import { formatConfigIssues, type ConfigIssue } from "./config-issue.js";
import type { ConfigLayer, LayerEntry } from "./config-layer.js";
import { findOption } from "./option-catalog.js";
import { locateConfigFile, readConfigFileLayer } from "./read-config-file.js";
import { CONFIG_FILE_ENV, readEnvLayer } from "./read-env.js";
import { configSchema, type Config } from "./schema.js";

export interface LoadConfigOptions {
  /** Config flags only (see extractConfigFlags); default none. */
  readonly argv?: readonly string[];
  /** Default process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Where a relative config path and the default scalemesh.yaml are looked up; default process.cwd(). */
  readonly cwd?: string;
}

export type LoadResult =
  | { readonly ok: true; readonly config: Config; readonly sources: string[] }
  | { readonly ok: false; readonly issues: ConfigIssue[]; readonly message: string };

/** The winning entry per option: later layers replace earlier ones. */
function mergeLayers(layers: readonly ConfigLayer[]): Map<string, LayerEntry> {
  const winners = new Map<string, LayerEntry>();
  for (const entry of layers.flatMap((layer) => layer.entries)) winners.set(entry.key, entry);
  return winners;
}

function toSchemaInput(
  winners: ReadonlyMap<string, LayerEntry>,
): Record<string, Record<string, unknown>> {
  const input: Record<string, Record<string, unknown>> = {};
  for (const entry of winners.values()) {
    const [section = "", name = ""] = entry.key.split(".");
    input[section] ??= {};
    input[section][name] = entry.value;
  }
  return input;
}

function dig(value: unknown, path: readonly PropertyKey[]): unknown {
  let current = value;
  for (const segment of path) {
    if (typeof current !== "object" || current === null) return undefined;
    const next: unknown = Reflect.get(current, segment);
    current = next;
  }
  return current;
}

function sourceOf(key: string, winners: ReadonlyMap<string, LayerEntry>): string {
  return winners.get(key)?.source ?? "default";
}

/** A schema issue in the loader's terms: which option, the value as written, where it came from. */
function toConfigIssue(
  issue: z.core.$ZodIssue,
  winners: ReadonlyMap<string, LayerEntry>,
): ConfigIssue {
  const [section, name, ...inner] = issue.path.map((segment) =>
    typeof segment === "number" ? segment : String(segment),
  );
  const option = findOption(`${section}.${name}`);
  if (option === undefined) {
    const key = issue.path.map(String).join(".") || "config";
    return {
      kind: "invalid_value",
      key,
      value: undefined,
      allowed: issue.message,
      source: "default",
    };
  }
  const winner = winners.get(option.key);
  const innerKey = inner
    .map((segment) => (typeof segment === "number" ? `[${segment}]` : `.${segment}`))
    .join("");
  const value =
    inner.length > 0
      ? dig(winner?.value ?? option.defaultValue, inner)
      : (winner?.raw ?? option.defaultValue);
  let allowed = option.allowed;
  if (issue.code === "custom") {
    // Cross-option checks name the other option; say where its value came from too.
    const relatedKey: unknown = issue.params?.["relatedKey"];
    allowed =
      typeof relatedKey === "string"
        ? `${issue.message} (from ${sourceOf(relatedKey, winners)})`
        : issue.message;
  }
  return {
    kind: "invalid_value",
    key: `${option.key}${innerKey}`,
    value,
    allowed,
    source: winner?.source ?? "default",
  };
}

/** zod's .readonly() freezes objects it parsed, but not defaults it handed out as they are. */
function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

export function loadConfig(options: LoadConfigOptions = {}): LoadResult {
  const env = options.env ?? process.env;
  const flagLayer = readFlagLayer(options.argv ?? []);
  const fileLocation = locateConfigFile({
    flag: flagLayer.configFile,
    envPath: env[CONFIG_FILE_ENV],
    envName: CONFIG_FILE_ENV,
    cwd: options.cwd ?? process.cwd(),
  });
  // Precedence is this order.
  const layers = [readConfigFileLayer(fileLocation), readEnvLayer(env), flagLayer];
  const winners = mergeLayers(layers);
  const parsed = configSchema.safeParse(toSchemaInput(winners));
  const issues = [
    ...layers.flatMap((layer) => layer.issues),
    ...(parsed.success ? [] : parsed.error.issues.map((issue) => toConfigIssue(issue, winners))),
  ];
  if (!parsed.success || issues.length > 0) {
    return { ok: false, issues, message: formatConfigIssues(issues) };
  }
  return {
    ok: true,
    config: deepFreeze(parsed.data),
    sources: ["default", ...layers.flatMap((layer) => layer.sources)],
  };
}

/** For service mains: the config, or the message on stderr and exit code 2. */
export function loadConfigOrExit(
  options: LoadConfigOptions = {},
  write: (text: string) => void = (text) => process.stderr.write(text),
): Config {
  // A service whose only arguments are options answers --help with all of them.
  if (options.argv?.some((arg) => arg === "--help" || arg === "-h")) {
    process.stdout.write(`${configHelp()}\n`);
    return process.exit(0);
  }
  const result = loadConfig(options);
  if (result.ok) return result.config;
  write(`${result.message}\n`);
  return process.exit(2);
}
