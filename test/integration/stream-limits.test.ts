// rpc.max_streams_per_connection on a real coordinator: with a limit of 2,
// a third watch on the same connection gets nothing until one of the first
// two ends, and then it is served. One connection cannot hold every stream.
import { afterAll, describe, expect, it } from "vitest";
import { Coordinator } from "../../libs/contracts/index.js";
import { createRpcClient } from "../../libs/rpc/index.js";
import { startLoneCoordinator } from "../support/mesh.js";
import { stopAll } from "../support/service-process.js";

afterAll(stopAll);

describe("streams per connection", () => {
  it("keeps a connection's calls past the limit waiting until one ends", async () => {
    const coordinator = await startLoneCoordinator({
      SCALEMESH_RPC_MAX_STREAMS_PER_CONNECTION: "2",
    });
    const client = createRpcClient(Coordinator, `127.0.0.1:${coordinator.grpcPort}`);
    const watches = [new AbortController(), new AbortController(), new AbortController()];
    // Each watch stays open (reading on) until aborted; `served[i]` is set by its first message.
    const served = [false, false, false];
    const running = watches.map(async (abort, i) => {
      try {
        for await (const message of client.watchCluster({}, { signal: abort.signal }))
          if (message.event.case === "snapshot") served[i] = true;
      } catch {
        // aborted
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(served.filter(Boolean)).toHaveLength(2);
    const waiting = served.indexOf(false);
    // End one of the two served watches: the waiting one is served.
    watches[served.indexOf(true)]?.abort();
    const deadline = Date.now() + 10_000;
    while (!served[waiting] && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 100));
    expect(served[waiting]).toBe(true);
    for (const abort of watches) abort.abort();
    await Promise.all(running);
    client.close();
    await coordinator.stop();
  }, 30_000);
});
