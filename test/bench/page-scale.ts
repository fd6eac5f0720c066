// The live page with a large fleet: --workers real worker sessions (the
// fleet driver's worker SDK instances) on one coordinator, a bounded load of
// Assigns, and the page open in headless chromium. Prints what a reading
// costs: bytes per event on the stream, the page's draw time per reading
// (p50, p99) under load, its JS heap, and the idle coordinator's CPU share
// with the page closed and open. There is no baseline to divide by (Grafana needs a Prometheus
// and a dashboard server beside it); the figures are said as they are.
//   node dist/test/bench/page-scale.js [--workers 1000] [--seconds 20]
import { parseArgs } from "node:util";
import { chromium } from "playwright-core";
import { startMesh } from "../support/mesh.js";
import { stopAll } from "../support/service-process.js";
import { startDriverProcesses } from "./bench-process.js";
import { usageOver } from "./proc-usage.js";

// What the callbacks run inside the browser see (this project compiles without the DOM library).
declare const document: {
  querySelector(s: string): { getAttribute(n: string): string | null } | null;
  querySelectorAll(s: string): { length: number };
  getElementById(id: string): { textContent: string | null } | null;
};
declare const window: unknown;

const { values } = parseArgs({
  options: {
    workers: { type: "string", default: "1000" },
    seconds: { type: "string", default: "20" },
  },
});
const workers = Number(values.workers);
const seconds = Number(values.seconds);
const progress = (text: string): void => void process.stderr.write(`${text}\n`);

/** Bytes and events of the stream over `ms`. */
async function streamCost(url: string, ms: number): Promise<{ bytes: number; events: number }> {
  const abort = new AbortController();
  const response = await fetch(url, { signal: abort.signal });
  const reader = response.body?.getReader();
  let bytes = 0;
  let events = 0;
  const stop = setTimeout(() => abort.abort(), ms);
  try {
    for (;;) {
      const chunk = await reader?.read();
      if (!chunk || chunk.done) break;
      bytes += chunk.value.byteLength;
      events += new TextDecoder().decode(chunk.value).split("event: tick").length - 1;
    }
  } catch {
    // aborted
  } finally {
    clearTimeout(stop);
  }
  return { bytes, events };
}

const quantile = (sorted: number[], q: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;

async function main(): Promise<void> {
  const mesh = await startMesh({ workers: 0 });
  const address = `127.0.0.1:${mesh.coordinator.grpcPort}`;
  const drivers = startDriverProcesses("fleet-driver.js", { address, workers, drivers: 2 });
  try {
    progress(`page-scale: ${workers} workers joining...`);
    await Promise.all(drivers.map((d) => d.waitForLine((l) => l.msg === "fleet joined", 600_000)));
    await mesh.waitForWorkers(workers, 120_000);
    const pid = mesh.coordinator.child.pid ?? 0;
    const closed = await usageOver(pid, 5);
    const url = `http://127.0.0.1:${mesh.coordinator.httpPort}`;
    const stream = await streamCost(`${url}/events`, 5_000);

    const browser = await chromium.launch({
      executablePath: "/usr/bin/chromium",
      args: ["--no-sandbox", "--enable-precise-memory-info"],
    });
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    await page.goto(`${url}/`);
    await page.waitForFunction(
      (n) => document.querySelectorAll("#workers tbody tr").length >= n,
      workers,
      { timeout: 60_000 },
    );
    progress(`page-scale: page shows ${workers} workers; idle 5 s, then ${seconds} s of load...`);
    const openIdle = await usageOver(pid, 5);
    // A bounded load: 16 Assigns in flight for `seconds`.
    const until = Date.now() + seconds * 1000;
    let assigned = 0;
    const loop = async (): Promise<void> => {
      while (Date.now() < until) {
        await mesh.balancerClient.assign({ task: { payload: new Uint8Array([1]) } });
        assigned += 1;
      }
    };
    await Promise.all(Array.from({ length: 16 }, loop));
    const renderTimes = (await page.evaluate(() =>
      [
        ...(window as unknown as { scalemeshPage: { renderTimes: number[] } }).scalemeshPage
          .renderTimes,
      ].sort((a, b) => a - b),
    )) as number[];
    const heap = (await page.evaluate(
      () =>
        (performance as unknown as { memory?: { usedJSHeapSize: number } }).memory
          ?.usedJSHeapSize ?? 0,
    )) as number;
    await page.locator("#worker-filter").fill("d1-99");
    const shown = await page.locator("#workers tbody tr:not([hidden])").count();
    await browser.close();
    console.log(
      JSON.stringify({
        workers,
        assigned,
        streamBytesPerTick: Math.round(stream.bytes / Math.max(1, stream.events)),
        drawMsP50: Number(quantile(renderTimes, 0.5).toFixed(1)),
        drawMsP99: Number(quantile(renderTimes, 0.99).toFixed(1)),
        draws: renderTimes.length,
        pageHeapMb: Number((heap / 1e6).toFixed(1)),
        coordinatorCpuIdlePageClosed: Number(closed.cpuShare.toFixed(3)),
        coordinatorCpuIdlePageOpen: Number(openIdle.cpuShare.toFixed(3)),
        rowsFilteredByD1_99: shown,
      }),
    );
  } finally {
    await Promise.all(drivers.map((d) => d.stop()));
    await mesh.stop();
    await stopAll();
  }
}

await main();
