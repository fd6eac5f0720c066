// Polls a probe until it answers, within a deadline: the real-process
// benches wait on a mesh's state this way (never a bare sleep).
import { setTimeout as sleep } from "node:timers/promises";

export async function pollUntil<T>(
  probe: () => Promise<T | undefined>,
  options: { readonly intervalMs?: number; readonly giveUpMs?: number } = {},
): Promise<T> {
  const giveUpMs = options.giveUpMs ?? 60_000;
  const deadline = Date.now() + giveUpMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`gave up after ${giveUpMs} ms`);
    await sleep(options.intervalMs ?? 50);
  }
}
