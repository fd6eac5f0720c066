// Leases for users on a real coordinator (SQLite ledger): withLease lets one
// holder run at a time and hands the lease on with a larger fencing token; a
// holder that stops renewing loses it, and its late renewal is refused; a
// job whose coordinator goes away is told through its signal before the
// lease runs out for others; leases and tokens survive a restart; bad input
// is refused naming the field.
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { afterAll, describe, expect, it } from "vitest";
import { Leases } from "../../libs/contracts/index.js";
import { Code, ConnectError, createRpcClient } from "../../libs/rpc/index.js";
import { withLease } from "../../libs/worker-sdk/index.js";
import { freshLedgerPath, startLoneCoordinator } from "../support/mesh.js";
import { stopAll, type ServiceProcess } from "../support/service-process.js";

afterAll(stopAll);

const ledgerPath = freshLedgerPath();
let coordinator: ServiceProcess;
const address = () => `127.0.0.1:${coordinator.grpcPort}`;

async function refusal(call: Promise<unknown>): Promise<ConnectError | undefined> {
  try {
    await call;
    return undefined;
  } catch (error) {
    return ConnectError.from(error);
  }
}

describe("leases for users", () => {
  it("let one holder run at a time, and hand the lease on with a larger fencing token", async () => {
    coordinator = await startLoneCoordinator({ SCALEMESH_LEDGER_PATH: ledgerPath });
    let releaseFirst: () => void = () => undefined;
    const firstMayEnd = new Promise<void>((resolve) => (releaseFirst = resolve));
    let firstStarted: () => void = () => undefined;
    const started = new Promise<void>((resolve) => (firstStarted = resolve));
    const first = withLease(
      "nightly-report",
      async (lease) => {
        firstStarted();
        await firstMayEnd;
        return lease.fencingToken;
      },
      { coordinator: address(), holder: "host-a" },
    );
    await started;
    // While host-a runs it, host-b is told who has it and does not run.
    const second = await withLease("nightly-report", async () => "ran", {
      coordinator: address(),
      holder: "host-b",
    });
    expect(second).toEqual({ ran: false, holder: "host-a" });
    releaseFirst();
    const firstDone = await first;
    expect(firstDone.ran).toBe(true);
    // Released at its end: host-b gets it at once, with the next token.
    const third = await withLease("nightly-report", async (lease) => lease.fencingToken, {
      coordinator: address(),
      holder: "host-b",
    });
    expect(third.ran && firstDone.ran && third.value).toBe(
      firstDone.ran ? firstDone.fencingToken + 1n : -1n,
    );
  });

  it("take a lease from a holder that stopped renewing, and refuse that holder's late renewal", async () => {
    const client = createRpcClient(Leases, address());
    const ttl = durationFromMs(1_000);
    const stale = await client.acquireLease({ name: "compaction", holder: "paused", ttl });
    expect(stale.acquired).toBe(true);
    const taken = await withLease("compaction", async (lease) => lease.fencingToken, {
      coordinator: client,
      holder: "awake",
      waitMs: 10_000,
      retryMs: 200,
    });
    expect(taken.ran).toBe(true);
    expect(taken.ran && taken.value > stale.fencingToken).toBe(true);
    const late = await refusal(
      client.renewLease({ name: "compaction", holder: "paused", fencingToken: stale.fencingToken }),
    );
    expect(late?.code).toBe(Code.FailedPrecondition);
    expect(late?.rawMessage).toContain(
      `lease compaction is no longer held by paused under fencing token ${stale.fencingToken}`,
    );
    client.close();
  });

  it("refuse bad names, holders and TTLs, naming the field", async () => {
    const client = createRpcClient(Leases, address());
    const bad = [
      client.acquireLease({ name: "has space", holder: "a", ttl: durationFromMs(5_000) }),
      client.acquireLease({ name: "ok", holder: "", ttl: durationFromMs(5_000) }),
      client.acquireLease({ name: "ok", holder: "a", ttl: durationFromMs(500) }),
      client.acquireLease({ name: "ok", holder: "a" }),
    ];
    const answers = await Promise.all(bad.map(refusal));
    expect(answers.map((a) => a?.code)).toEqual(new Array(4).fill(Code.InvalidArgument));
    expect(answers.map((a) => a?.rawMessage.split(":")[0])).toEqual([
      "name",
      "holder",
      "ttl",
      "ttl",
    ]);
    client.close();
  });

  it("keep leases and their tokens across a coordinator restart", async () => {
    const client = createRpcClient(Leases, address());
    const held = await client.acquireLease({
      name: "survives",
      holder: "host-a",
      ttl: durationFromMs(60_000),
    });
    client.close();
    await coordinator.stop();
    coordinator = await startLoneCoordinator({ SCALEMESH_LEDGER_PATH: ledgerPath });
    const after = createRpcClient(Leases, address());
    const asked = await after.acquireLease({
      name: "survives",
      holder: "host-b",
      ttl: durationFromMs(60_000),
    });
    expect(asked).toMatchObject({ acquired: false, holder: "host-a" });
    expect(asked.fencingToken).toBe(held.fencingToken);
    after.close();
  }, 30_000);

  it("tell a job through its signal that its lease is lost when the coordinator stops answering", async () => {
    let holding: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (holding = resolve));
    const outcome = withLease(
      "guarded",
      (lease) =>
        new Promise<string>((resolve) => {
          lease.signal.addEventListener("abort", () => resolve(String(lease.signal.reason)));
          holding();
        }),
      { coordinator: address(), holder: "host-a", ttlMs: 1_500 },
    );
    // The job holds the lease; then its coordinator goes away for good.
    await held;
    await coordinator.stop("SIGKILL");
    const result = await outcome;
    expect(result.ran && result.value).toContain("lease guarded ran out with no renewal answered");
  }, 30_000);
});
