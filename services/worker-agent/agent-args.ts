// The worker agent's command line. Every option of the config schema works
// as --section.key VALUE; the short flags here are the everyday ones, turned
// into those config flags (--slots 4 is --worker.slots 4), so the schema
// stays the one place that says what a value may be. A bad value ends the
// process with exit code 2 and a message naming the flag as it was written.
import { Command, CommanderError, InvalidArgumentError } from "commander";
import {
  extractConfigFlags,
  formatConfigIssues,
  loadConfig,
  type Config,
} from "../../libs/config/index.js";
import { SCALEMESH_VERSION } from "../../libs/telemetry/index.js";
import { HANDLER_SPEC_ALLOWED, parseHandlerSpec } from "./handlers/handler-spec.js";

export type AgentArgs =
  | { readonly kind: "run"; readonly config: Config }
  /** Help, version or a usage error: already written; exit with this code. */
  | { readonly kind: "exit"; readonly code: number };

export interface AgentArgsOptions {
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly cwd?: string;
  readonly writeOut?: (text: string) => void;
  readonly writeErr?: (text: string) => void;
}

interface ShortFlags {
  readonly coordinator?: string;
  readonly workerId?: string;
  readonly host?: string;
  readonly httpPort?: number;
  readonly slots?: number;
  readonly handler?: string;
  readonly capability?: readonly string[];
  readonly label?: readonly string[];
  readonly region?: string;
  readonly zone?: string;
}

/** Each short flag and the config key it sets. */
const CONFIG_KEY_OF: ReadonlyArray<readonly [flag: string, field: keyof ShortFlags, key: string]> =
  [
    ["--coordinator", "coordinator", "worker.coordinator"],
    ["--worker-id", "workerId", "worker.worker_id"],
    ["--host", "host", "worker.host"],
    ["--http-port", "httpPort", "worker.http_port"],
    ["--slots", "slots", "worker.slots"],
    ["--handler", "handler", "worker.handler"],
    ["--capability", "capability", "worker.capabilities"],
    ["--label", "label", "worker.labels"],
    ["--region", "region", "scaling.region"],
    ["--zone", "zone", "scaling.zone"],
  ];

export const USAGE_FOOTER = [
  "",
  "Every option can also be given as --section.key VALUE (e.g. --worker.task-timeout-sec 60),",
  "in scalemesh.yaml (--config FILE) or as SCALEMESH_SECTION_KEY; see 'scalemesh --help-config'.",
  "On SIGTERM or SIGINT the agent drains: it takes nothing new, finishes and reports what runs,",
  "waits until the coordinator acknowledges every result (up to rpc.shutdown-grace-sec), then exits 0.",
].join("\n");

function integer(flag: string, min: number, max: number) {
  return (text: string): number => {
    const value = Number(text);
    if (text.trim() === "" || !Number.isInteger(value) || value < min || value > max) {
      throw new InvalidArgumentError(
        `${flag} must be an integer from ${min} to ${max}, got "${text}"`,
      );
    }
    return value;
  };
}

const handlerSpec = (text: string): string => {
  const parsed = parseHandlerSpec(text);
  if (!parsed.ok) throw new InvalidArgumentError(parsed.error);
  return text;
};

const keyValue = (text: string, previous: readonly string[] = []): string[] => {
  if (!/^[^=,\s]+=[^,]*$/.test(text))
    throw new InvalidArgumentError(`--label must be key=value (no commas), got "${text}"`);
  return [...previous, text];
};

const collect = (text: string, previous: readonly string[] = []): string[] => {
  if (text.trim() === "" || text.includes(","))
    throw new InvalidArgumentError(
      `--capability takes one non-empty name without commas, got "${text}"`,
    );
  return [...previous, text];
};

function agentCommand(writeOut: (text: string) => void, writeErr: (text: string) => void): Command {
  return new Command("worker-agent")
    .description(
      "A scalemesh worker: joins the coordinator, runs the tasks it assigns, reports their results.",
    )
    .version(SCALEMESH_VERSION)
    .option("--coordinator <uri>", "where the coordinator is, e.g. static://127.0.0.1:7070")
    .option(
      "--worker-id <id>",
      "stable worker id (default: generated, <worker_prefix>-<hostname>-<random>)",
    )
    .option("--host <address>", "address the HTTP port (health, metrics) listens on")
    .option(
      "--http-port <n>",
      "HTTP port for /metrics, /healthz, /readyz (0 = any free port)",
      integer("--http-port", 0, 65535),
    )
    .option("--slots <n>", "tasks run at once", integer("--slots", 1, 1024))
    .option(
      "--handler <spec>",
      `what runs a task: ${HANDLER_SPEC_ALLOWED}; "" returns the payload`,
      handlerSpec,
    )
    .option("--capability <name>", "a capability this worker offers (repeatable)", collect)
    .option("--label <key=value>", "a label reported with the worker (repeatable)", keyValue)
    .option("--region <name>", "region this worker runs in")
    .option("--zone <name>", "zone this worker runs in")
    .addHelpText("after", USAGE_FOOTER)
    .exitOverride()
    .configureOutput({ writeOut, writeErr })
    .allowExcessArguments(false);
}

/** The short flags as config flags, and which short flag each config flag came from. */
function toConfigArgs(flags: ShortFlags): { args: string[]; flagOfSource: Map<string, string> } {
  const args: string[] = [];
  const flagOfSource = new Map<string, string>();
  for (const [flag, field, key] of CONFIG_KEY_OF) {
    const value = flags[field];
    if (value === undefined) continue;
    const values = Array.isArray(value) ? value : [String(value)];
    for (const item of values) args.push(`--${key}=${item}`);
    if (values.length > 0) flagOfSource.set(`flag --${key}`, `flag ${flag}`);
  }
  return { args, flagOfSource };
}

export function parseAgentArgs(argv: readonly string[], options: AgentArgsOptions = {}): AgentArgs {
  const writeOut = options.writeOut ?? ((text) => process.stdout.write(text));
  const writeErr = options.writeErr ?? ((text) => process.stderr.write(text));
  const { configArgs, rest } = extractConfigFlags(argv);
  const command = agentCommand(writeOut, writeErr);
  try {
    command.parse([...rest], { from: "user" });
  } catch (error) {
    if (error instanceof CommanderError)
      return { kind: "exit", code: error.exitCode === 0 ? 0 : 2 };
    throw error;
  }
  const short = toConfigArgs(command.opts<ShortFlags>());
  const loaded = loadConfig({
    argv: [...configArgs, ...short.args],
    env: options.env ?? process.env,
    cwd: options.cwd ?? process.cwd(),
  });
  if (!loaded.ok) {
    const issues = loaded.issues.map((issue) => ({
      ...issue,
      source: short.flagOfSource.get(issue.source) ?? issue.source,
    }));
    writeErr(`${formatConfigIssues(issues)}\n`);
    return { kind: "exit", code: 2 };
  }
  return { kind: "run", config: loaded.config };
}
