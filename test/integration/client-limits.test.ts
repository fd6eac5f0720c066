// Per-client limits on a real mesh: with role tokens, alice floods Assign far
// past balancer.client_rate_per_sec and is refused RESOURCE_EXHAUSTED naming
// the limit and when to retry, while bob, within his rate at the same time,
// is never refused and every one of his tasks succeeds.
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TaskState } from "../../libs/contracts/index.js";
import { Code, toConnectError, useBearerToken } from "../../libs/rpc/index.js";
import { startMesh, type Mesh } from "../support/mesh.js";
import { serviceEntry } from "../support/service-process.js";
import { serviceTokenEnv, stopTokenMesh } from "../support/token-mesh.js";

const dir = mkdtempSync(join(tmpdir(), "scalemesh-limits-"));
const signingKey = join(dir, "token-signing-key.pem");

function token(...args: string[]): string {
  const made = spawnSync(
    process.execPath,
    [serviceEntry("cli"), "token", "create", "--key", signingKey, ...args],
    { encoding: "utf8" },
  );
  if (made.status !== 0) throw new Error(made.stderr);
  return made.stdout.trim();
}

let mesh: Mesh;
const as = (holder: string) => ({ headers: { authorization: `Bearer ${tokens[holder]}` } });
const tokens: Record<string, string> = {};
beforeAll(async () => {
  spawnSync(process.execPath, [serviceEntry("cli"), "token", "keygen", dir]);
  tokens.alice = token("--role", "client", "--holder", "alice");
  tokens.bob = token("--role", "client", "--holder", "bob");
  useBearerToken(token("--role", "admin"));
  mesh = await startMesh({
    workers: 0,
    env: {
      SCALEMESH_AUTH_TOKEN_PUBLIC_KEY_FILE: join(dir, "token-public-key.pem"),
      ...serviceTokenEnv(dir, token("--role", "service")),
    },
    balancerEnv: {
      SCALEMESH_BALANCER_CLIENT_RATE_PER_SEC: "5",
      SCALEMESH_BALANCER_CLIENT_BURST: "5",
    },
  });
  const joinFile = join(dir, "worker.token");
  writeFileSync(joinFile, token("--worker", "*"));
  await mesh.startWorker("worker-1", [], { SCALEMESH_WORKER_JOIN_TOKEN_FILE: joinFile });
}, 60_000);
afterAll(() => stopTokenMesh(mesh, dir));

describe("per-client limits", () => {
  it("refuse a flooding client past its rate, and not the other", async () => {
    const task = { payload: new TextEncoder().encode("x") };
    const outcome = (call: Promise<{ result?: { state: TaskState } }>) =>
      call.then(
        (answer) => (answer.result?.state === TaskState.SUCCEEDED ? "succeeded" : "other"),
        (error: unknown) => {
          const status = toConnectError(error);
          return status.code === Code.ResourceExhausted ? `refused: ${status.rawMessage}` : "error";
        },
      );
    // alice: 300 at once; bob: 4 over a second (within his 5/s), at the same time.
    // Loose bounds: on a loaded machine alice's 300 may reach the balancer over seconds.
    const flood = Array.from({ length: 300 }, () =>
      outcome(mesh.balancerClient.assign({ task, awaitResult: true }, as("alice"))),
    );
    const steady: Promise<string>[] = [];
    for (let i = 0; i < 4; i += 1) {
      steady.push(outcome(mesh.balancerClient.assign({ task, awaitResult: true }, as("bob"))));
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const alice = await Promise.all(flood);
    const bob = await Promise.all(steady);
    expect(bob).toEqual(Array.from({ length: 4 }, () => "succeeded"));
    const refused = alice.filter((o) => o.startsWith("refused"));
    expect(refused.length).toBeGreaterThanOrEqual(200);
    expect(alice.filter((o) => o === "succeeded").length).toBeGreaterThanOrEqual(5);
    expect(refused[0]).toMatch(
      /^refused: client "alice" is over balancer\.client_rate_per_sec \(5\/s, burst 5\); retry in \d+ ms$/,
    );
    expect(alice.filter((o) => o === "error" || o === "other")).toEqual([]);
  }, 60_000);

  it("count each AssignStream item against the same limit", async () => {
    async function* items() {
      for (let i = 1; i <= 60; i += 1)
        yield {
          sequence: BigInt(i),
          request: { task: { payload: new TextEncoder().encode("s") } },
        };
    }
    const codes: number[] = [];
    for await (const answer of mesh.balancerClient.assignStream(items(), as("alice")))
      if (answer.outcome.case === "error") codes.push(answer.outcome.value.code);
      else if (answer.outcome.case === "assigned") codes.push(0);
    expect(codes).toHaveLength(60);
    const refused = codes.filter((c) => c === Code.ResourceExhausted).length;
    expect(refused).toBeGreaterThanOrEqual(20);
    expect(codes.filter((c) => c !== 0 && c !== Code.ResourceExhausted)).toEqual([]);
  }, 30_000);
});
