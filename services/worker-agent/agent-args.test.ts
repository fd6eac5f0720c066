import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseAgentArgs, type AgentArgs } from "./agent-args.js";

const emptyDir = mkdtempSync(join(tmpdir(), "agent-args-"));
afterAll(() => rmSync(emptyDir, { recursive: true, force: true }));

function parse(argv: string[]): { result: AgentArgs; out: string; err: string } {
  let out = "";
  let err = "";
  const result = parseAgentArgs(argv, {
    env: {},
    cwd: emptyDir,
    writeOut: (t) => (out += t),
    writeErr: (t) => (err += t),
  });
  return { result, out, err };
}

function configOf(argv: string[]) {
  const { result, err } = parse(argv);
  if (result.kind !== "run") throw new Error(`expected a config, got exit ${result.code}: ${err}`);
  return result.config;
}

describe("worker agent flags", () => {
  it("turns the short flags into the worker's config", () => {
    const config = configOf([
      "--coordinator",
      "static://10.0.0.1:7070,10.0.0.2:7070",
      "--worker-id",
      "w-7",
      "--slots",
      "8",
      "--handler",
      "exec:cat",
      "--http-port",
      "0",
      "--host",
      "0.0.0.0",
      "--capability",
      "gpu",
      "--capability",
      "avx",
      "--label",
      "team=search",
      "--label",
      "tier=batch",
      "--region",
      "eu-west",
      "--zone",
      "eu-west-1b",
    ]);
    expect(config.worker).toMatchObject({
      coordinator: "static://10.0.0.1:7070,10.0.0.2:7070",
      worker_id: "w-7",
      slots: 8,
      handler: "exec:cat",
      http_port: 0,
      host: "0.0.0.0",
      capabilities: ["gpu", "avx"],
      labels: { team: "search", tier: "batch" },
    });
    expect(config.scaling).toMatchObject({ region: "eu-west", zone: "eu-west-1b" });
  });

  it("accepts config flags too, and a short flag given later wins", () => {
    const config = configOf([
      "--worker.slots",
      "3",
      "--worker.task-timeout-sec=60",
      "--slots",
      "5",
    ]);
    expect(config.worker.slots).toBe(5);
    expect(config.worker.task_timeout_sec).toBe(60);
  });

  it('takes --handler "" as the built-in handler', () => {
    expect(configOf(["--handler", ""]).worker.handler).toBe("");
  });

  it.each([
    { argv: ["--slots", "abc"], message: /--slots must be an integer from 1 to 1024, got "abc"/ },
    { argv: ["--slots", "0"], message: /--slots must be an integer from 1 to 1024/ },
    { argv: ["--http-port", "70000"], message: /--http-port must be an integer from 0 to 65535/ },
    { argv: ["--handler", "python:main.py"], message: /unknown handler "python:main.py"/ },
    { argv: ["--label", "no-equals"], message: /--label must be key=value/ },
    {
      argv: ["--capability", "a,b"],
      message: /--capability takes one non-empty name without commas/,
    },
    { argv: ["--bogus"], message: /unknown option '--bogus'/ },
    { argv: ["--slots"], message: /argument missing/ },
    {
      argv: ["--region", ""],
      message: /invalid value for scaling\.region: "" \(from flag --region\)/,
    },
    {
      argv: ["--coordinator", "nowhere"],
      message: /invalid value for worker\.coordinator: "nowhere" \(from flag --coordinator\)/,
    },
    {
      argv: ["--worker.slots", "2000"],
      message: /invalid value for worker\.slots: "2000" \(from flag --worker\.slots\)/,
    },
  ])("exits 2 naming the option for $argv", ({ argv, message }) => {
    const { result, err } = parse(argv);
    expect(result).toEqual({ kind: "exit", code: 2 });
    expect(err).toMatch(message);
  });

  it("prints help and exits 0", () => {
    const { result, out } = parse(["--help"]);
    expect(result).toEqual({ kind: "exit", code: 0 });
    expect(out).toMatch(/--coordinator <uri>/);
    expect(out).toMatch(/--section\.key VALUE/);
  });
});
