#!/usr/bin/env node
// The `scalemesh` command: up, status, workers, assign, and the operator commands.
import { Command, CommanderError } from "commander";
import { extractConfigFlags, loadConfig, tlsSettingOf } from "../../libs/config/index.js";
import { useBearerToken, useTls } from "../../libs/rpc/index.js";
import { readTokenFile } from "../../libs/auth/token-key.js";
import { certsInit } from "./certs-command.js";
import { tokenCreate, tokenKeygen, tokenRevoke } from "./token-command.js";
import { projectRoot, SCALEMESH_VERSION } from "../../libs/telemetry/index.js";
import { assign } from "./assign-command.js";
import { up } from "./up-command.js";
import { addAdminCommands } from "./admin-commands.js";
import { parseAge } from "./operator-commands.js";
import { failureText } from "./coordinator-loss.js";
import {
  chosenOutput,
  collect,
  integer,
  outputOptions,
  positive,
  type OutputFormat,
} from "./option-parsers.js";
import { CliUsageError } from "./usage-error.js";
import { join } from "node:path";

const out = (text: string): void => {
  process.stdout.write(`${text}\n`);
};
// `scalemesh workers | head -3`: the reader left, so stop quietly, as Unix tools do.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(0);
  throw error;
});

async function main(argv: readonly string[]): Promise<number> {
  const { configArgs, rest } = extractConfigFlags(argv);
  const loaded = loadConfig({ argv: configArgs, env: process.env, cwd: process.cwd() });
  if (!loaded.ok) {
    process.stderr.write(`${loaded.message}\n`);
    return 2;
  }
  const config = loaded.config;
  const tls = tlsSettingOf(config.tls, "cli");
  if (!tls.ok) {
    process.stderr.write(`${tls.error}\n`);
    return 2;
  }
  useTls(tls.setting.files);
  if (config.auth.token_file !== "") {
    const read = readTokenFile(config.auth.token_file);
    if ("problem" in read) {
      process.stderr.write(`${read.problem}\n`);
      return 2;
    }
    useBearerToken(read.token);
  }
  let exitCode = 0;
  const program = new Command("scalemesh")
    .description("A horizontal-scaling control plane: hand it tasks, it runs them on workers.")
    .version(SCALEMESH_VERSION)
    .exitOverride()
    .showHelpAfterError()
    .addHelpText(
      "after",
      "\nEvery option of the services can also be given as --section.key=value (see --help-config), in scalemesh.yaml, or as SCALEMESH_SECTION_KEY.",
    );

  program
    .command("up")
    .description("start coordinator, balancer, optimizer and worker agents on this machine")
    .option(
      "--workers <n>",
      "worker agents to start (default: scaling.min_workers)",
      integer("--workers", 0, 64),
    )
    .option(
      "--slots <n>",
      "tasks each worker runs at once (default: worker.slots)",
      integer("--slots", 1, 1024),
    )
    .option("--handler <spec>", "module:PATH or exec:COMMAND (default: the echo example)")
    .option("--log-dir <dir>", "where the services write their logs", ".scalemesh/logs")
    .action(
      async (opts: { workers?: number; slots?: number; handler?: string; logDir: string }) => {
        const handler =
          opts.handler ??
          (config.worker.handler ||
            `module:${join(projectRoot(), "examples", "handlers", "echo.mjs")}`);
        if (!/^(module|exec):.+/.test(handler))
          throw new CliUsageError(
            `--handler must be module:PATH or exec:COMMAND, got "${handler}"`,
          );
        exitCode = await up(
          {
            config,
            configArgs,
            workers: opts.workers ?? config.scaling.min_workers,
            slots: opts.slots ?? config.worker.slots,
            handler,
            logDir: opts.logDir,
          },
          out,
        );
      },
    );

  const [outputOption, jsonOption] = outputOptions();
  program
    .command("assign")
    .description("hand one task to the mesh through a balancer")
    .option(
      "--balancer <uri>",
      "where a balancer is",
      `static://${config.balancer.host}:${config.balancer.grpc_port}`,
    )
    .option("--payload <text>", "the task's payload (UTF-8 text)", "")
    .option("--task-id <id>", "an id of your own, for idempotency")
    .option("--routing-key <key>", "tasks with one key go to one worker under hashing strategies")
    .option("--capability <name>", "a capability the worker must offer (repeatable)", collect, [])
    .option(
      "--priority <n>",
      "higher runs first when tasks wait",
      integer("--priority", -1_000_000, 1_000_000),
      0,
    )
    .option(
      "--max-attempts <n>",
      "attempts before the task is dead-lettered (0 = default)",
      integer("--max-attempts", 0, 100),
      0,
    )
    .option("--task-timeout <sec>", "per-attempt time limit", positive("--task-timeout"))
    .option("--strategy <name>", "override the balancer's strategy for this task")
    .option("--wait", "wait for the final state and print the output")
    .option("--wait-timeout <sec>", "how long --wait waits", positive("--wait-timeout"), 60)
    .addOption(outputOption)
    .addOption(jsonOption)
    .action(
      async (opts: {
        balancer: string;
        payload: string;
        taskId?: string;
        routingKey?: string;
        capability: string[];
        priority: number;
        maxAttempts: number;
        taskTimeout?: number;
        strategy?: string;
        wait?: boolean;
        waitTimeout: number;
        output?: OutputFormat;
        json?: boolean;
      }) => {
        exitCode = await assign(
          {
            balancer: opts.balancer,
            payload: opts.payload,
            taskId: opts.taskId,
            routingKey: opts.routingKey,
            capabilities: opts.capability,
            priority: opts.priority,
            maxAttempts: opts.maxAttempts,
            taskTimeoutSec: opts.taskTimeout,
            strategy: opts.strategy,
            wait: opts.wait ?? false,
            waitSec: opts.waitTimeout,
            format: chosenOutput(opts),
          },
          out,
        );
      },
    );

  addAdminCommands(
    program,
    `static://${config.coordinator.host}:${config.coordinator.grpc_port}`,
    out,
  );

  const certs = program.command("certs").description("certificates for mutual TLS");
  certs
    .command("init <dir>")
    .description("make a development CA and a certificate for each service in DIR")
    .option(
      "--host <name>",
      "another DNS name or IP address every certificate is valid for (repeatable)",
      collect,
      [],
    )
    .option("--force", "replace an existing set (certificates it signed stop working)")
    .action(async (dir: string, opts: { host: string[]; force?: boolean }) => {
      await certsInit(dir, { hosts: opts.host, force: opts.force ?? false }, out);
    });

  const token = program.command("token").description("join tokens for worker agents");
  token
    .command("keygen <dir>")
    .description("make the key pair join tokens are signed with")
    .option("--force", "replace an existing pair (tokens it signed stop working)")
    .action(async (dir: string, opts: { force?: boolean }) => {
      await tokenKeygen(dir, opts.force ?? false, out);
    });
  token
    .command("create")
    .description("print a join token (--worker) or a role token (--role)")
    .requiredOption("--key <file>", "the signing key from token keygen")
    .option("--worker <pattern>", "join token: worker ids it may join as; * matches anything")
    .option(
      "--capability <name>",
      "join token: a capability it may claim (repeatable)",
      collect,
      [],
    )
    .option("--role <role>", "role token: viewer, operator, admin or client")
    .option("--holder <name>", "role token: who holds it (logs and limits name it)")
    .option("--ttl <age>", "how long it is valid (90s, 15m, 2h, 7d)", "24h")
    .action(
      async (opts: {
        key: string;
        worker?: string;
        role?: string;
        holder?: string;
        capability: string[];
        ttl: string;
      }) => {
        await tokenCreate(
          {
            key: opts.key,
            ...(opts.worker !== undefined ? { worker: opts.worker } : {}),
            ...(opts.role !== undefined ? { role: opts.role } : {}),
            ...(opts.holder !== undefined ? { holder: opts.holder } : {}),
            capabilities: opts.capability,
            ttlMs: parseAge(opts.ttl, "--ttl"),
          },
          out,
          (text) => process.stderr.write(`${text}\n`),
        );
      },
    );
  token
    .command("revoke <token-id>")
    .description("refuse a join token from now on")
    .option(
      "--revoked-file <file>",
      "the coordinator's auth.revoked_tokens_file",
      config.auth.revoked_tokens_file,
    )
    .action((tokenId: string, opts: { revokedFile: string }) => {
      tokenRevoke(tokenId, opts.revokedFile, out);
    });

  try {
    await program.parseAsync([...rest], { from: "user" });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    if (error instanceof CliUsageError) {
      process.stderr.write(`error: ${error.message}\n`);
      return 2;
    }
    process.stderr.write(`error: ${failureText(error)}\n`);
    return 1;
  }
}

if (process.argv.includes("--help-config")) {
  const { configHelp } = await import("../../libs/config/index.js");
  process.stdout.write(`${configHelp()}\n`);
  process.exit(0);
}
process.exitCode = await main(process.argv.slice(2));
