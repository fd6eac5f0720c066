// The pause before a long-lived call (a worker's session, a balancer's
// cluster watch) is opened again. A fixed backoff would make a client sit
// out seconds after its registry already lists a new endpoint; this pause
// ends early when discovery says an endpoint (re)appeared, and then waits
// the moment the channel needs to reach it, since until then the channel
// still shows its last failure.
import { setTimeout as sleep } from "node:timers/promises";
import type { RpcClient } from "./client.js";

export async function waitBeforeReconnect(
  client: Pick<RpcClient<never>, "discovery" | "waitForReady">,
  delayMs: number,
  signal: AbortSignal,
  connectWaitMs = 2_000,
): Promise<void> {
  const appeared = new AbortController();
  const unsubscribe = client.discovery?.subscribe((change) => {
    if (change.kind === "endpoints" && change.endpoints.length > 0) appeared.abort();
  });
  try {
    await sleep(delayMs, undefined, { signal: AbortSignal.any([signal, appeared.signal]) }).catch(
      () => undefined,
    );
  } finally {
    unsubscribe?.();
  }
  if (appeared.signal.aborted && !signal.aborted)
    await client.waitForReady(connectWaitMs).catch(() => undefined);
}
