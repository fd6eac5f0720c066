import { describe, expect, it } from "vitest";
import type { EndpointResolver, ResolverChange } from "../discovery/index.js";
import { waitBeforeReconnect } from "./reconnect-wait.js";

/** A client whose discovery the test drives, counting waitForReady calls. */
function drivenClient() {
  const listeners = new Set<(change: ResolverChange) => void>();
  let readyWaits = 0;
  const discovery = {
    subscribe: (listener: (change: ResolverChange) => void) => (
      listeners.add(listener),
      () => listeners.delete(listener)
    ),
  } as unknown as EndpointResolver;
  return {
    client: { discovery, waitForReady: async () => void (readyWaits += 1) },
    emit: (change: ResolverChange) => [...listeners].forEach((listener) => listener(change)),
    listenerCount: () => listeners.size,
    readyWaits: () => readyWaits,
  };
}

const settled = async (promise: Promise<unknown>): Promise<boolean> => {
  let isDone = false;
  void promise.then(() => (isDone = true));
  await new Promise((resolve) => setImmediate(resolve));
  return isDone;
};

describe("waitBeforeReconnect", () => {
  it("ends a long backoff as soon as discovery lists an endpoint, then waits for the channel", async () => {
    const driven = drivenClient();
    const wait = waitBeforeReconnect(driven.client, 600_000, new AbortController().signal);
    // An empty list or a failure is no reason to try again early.
    driven.emit({ kind: "endpoints", endpoints: [] });
    driven.emit({ kind: "failure", error: "registry down" });
    expect(await settled(wait)).toBe(false);
    driven.emit({
      kind: "endpoints",
      endpoints: [{ address: "127.0.0.1:7070", priority: 0, weight: 1 }],
    });
    await wait;
    expect(driven.readyWaits()).toBe(1);
    expect(driven.listenerCount()).toBe(0);
  });

  it("ends on abort without waiting for the channel", async () => {
    const driven = drivenClient();
    const stop = new AbortController();
    const wait = waitBeforeReconnect(driven.client, 600_000, stop.signal);
    stop.abort();
    await wait;
    expect(driven.readyWaits()).toBe(0);
    expect(driven.listenerCount()).toBe(0);
  });
});
