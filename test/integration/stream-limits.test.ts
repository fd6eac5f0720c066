// rpc.max_streams_per_connection on a real coordinator: with a limit of 2,
// a third watch on the same connection is refused with RESOURCE_EXHAUSTED
// naming the limit, another connection is still served, and once one of the
// first two ends the same connection is served again.
import { afterAll, describe, expect, it } from "vitest";
import { Coordinator } from "../../libs/contracts/index.js";
import { Code, ConnectError, createRpcClient } from "../../libs/rpc/index.js";
import { startLoneCoordinator } from "../support/mesh.js";
import { stopAll } from "../support/service-process.js";

afterAll(stopAll);

type Client = ReturnType<typeof createRpcClient<typeof Coordinator>>;

/** Opens a watch that stays open until aborted; resolves at its first message, or rejects with its error. */
function openWatch(client: Client, abort: AbortController): { served: Promise<void> } {
  let onServed: () => void = () => {};
  let onFailed: (error: unknown) => void = () => {};
  const served = new Promise<void>((resolve, reject) => {
    onServed = resolve;
    onFailed = reject;
  });
  void (async () => {
    try {
      for await (const message of client.watchCluster({}, { signal: abort.signal }))
        if (message.event.case === "snapshot") onServed();
    } catch (error) {
      onFailed(error);
    }
  })();
  return { served };
}

describe("streams per connection", () => {
  it("refuses a connection's call past the limit, naming it, and serves it again once one ends", async () => {
    const coordinator = await startLoneCoordinator({
      SCALEMESH_RPC_MAX_STREAMS_PER_CONNECTION: "2",
    });
    const address = `127.0.0.1:${coordinator.grpcPort}`;
    const client = createRpcClient(Coordinator, address);
    const aborts = [new AbortController(), new AbortController()];
    const first = aborts.map((abort) => openWatch(client, abort));
    await Promise.all(first.map((watch) => watch.served));

    const third = openWatch(client, new AbortController());
    const refusal = await third.served.then(
      () => undefined,
      (error: unknown) => ConnectError.from(error),
    );
    expect(refusal?.code).toBe(Code.ResourceExhausted);
    expect(refusal?.rawMessage).toContain(
      "rpc.max_streams_per_connection: 2 calls are already open",
    );

    // The limit is per connection: another client's connection is served meanwhile.
    // (Other channel options: grpc-js shares a connection between clients whose options match.)
    const other = createRpcClient(Coordinator, address, { keepaliveTimeMs: 11_000 });
    const otherAbort = new AbortController();
    await openWatch(other, otherAbort).served;

    // One of the first two ends: the same connection is served again.
    aborts[0]?.abort();
    const againAbort = new AbortController();
    const deadline = Date.now() + 10_000;
    let servedAgain = false;
    while (!servedAgain && Date.now() < deadline) {
      servedAgain = await openWatch(client, againAbort).served.then(
        () => true,
        async () => {
          await new Promise((resolve) => setTimeout(resolve, 100));
          return false;
        },
      );
    }
    expect(servedAgain).toBe(true);
    for (const abort of [...aborts, otherAbort, againAbort]) abort.abort();
    client.close();
    other.close();
    await coordinator.stop();
  }, 30_000);
});
