// The live page in a real browser (Debian's chromium, driven by
// playwright-core) against a running mesh: it lists the workers, its task
// counter moves as tasks run, a click drains a worker (after a confirmation)
// and its row changes state, and when the coordinator goes the page says so.
// A screenshot is taken each run (SCALEMESH_SCREENSHOT=path keeps it there:
// the README's image is one).
import { existsSync, mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TaskState } from "../../libs/contracts/index.js";
import { startMesh, type Mesh } from "../support/mesh.js";
import { stopAll } from "../support/service-process.js";

const CHROMIUM = "/usr/bin/chromium";

let mesh: Mesh;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)`);
  mesh = await startMesh({ workers: 3, withOptimizer: true });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await mesh?.stop();
  await stopAll();
});

const counter = async (id: string): Promise<number> =>
  Number((await page.locator(`#${id}`).textContent())?.trim() || "NaN");

describe("the live page", () => {
  it("shows every worker, with its state and slots", async () => {
    await page.goto(`http://127.0.0.1:${mesh.coordinator.httpPort}/`);
    await page.locator("#connection[data-state=live]").waitFor({ timeout: 15_000 });
    for (const id of ["worker-1", "worker-2", "worker-3"]) {
      const row = page.locator(`tr[data-worker="${id}"]`);
      await row.waitFor();
      expect(await row.getAttribute("data-state")).toBe("alive");
      expect(await row.locator("td").nth(2).textContent()).toMatch(/^\d+\/\d+$/);
    }
    expect(await counter("s-alive")).toBe(3);
  });

  it("counts tasks as they succeed", async () => {
    const before = await counter("s-succeeded");
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        mesh.balancerClient.assign({
          task: { payload: new TextEncoder().encode(`page ${i}`) },
          awaitResult: true,
        }),
      ),
    );
    expect(results.every((r) => r.result?.state === TaskState.SUCCEEDED)).toBe(true);
    await page.waitForFunction(
      (expected) => Number(document.getElementById("s-succeeded")?.textContent) >= expected,
      before + 8,
      { timeout: 15_000 },
    );
    expect(await counter("s-succeeded")).toBeGreaterThanOrEqual(before + 8);
  });

  it("drains a worker with a click, after asking, and shows its state change", async () => {
    const row = page.locator('tr[data-worker="worker-1"]');
    await row.locator('button[data-action="drain"]').click();
    const dialog = page.locator("#confirm");
    await dialog.waitFor({ state: "visible" });
    expect(await page.locator("#confirm-text").textContent()).toContain("Drain worker-1?");
    await page.locator("#confirm-ok").click();
    await page.locator("#toast").waitFor({ state: "visible" });
    expect(await page.locator("#toast").textContent()).toContain("worker-1 is draining");
    await page.waitForFunction(
      () =>
        document.querySelector('tr[data-worker="worker-1"]')?.getAttribute("data-state") !==
        "alive",
      undefined,
      { timeout: 15_000 },
    );
    expect(["draining", "dead"]).toContain(await row.getAttribute("data-state"));
    const { workers } = await mesh.admin.listWorkers({ includeDead: true });
    const drained = workers.find((w) => w.spec?.workerId === "worker-1");
    expect(drained?.state).not.toBe(1); // no longer ALIVE, as the page shows
  });

  it("takes a screenshot of the page", async () => {
    const path =
      process.env.SCALEMESH_SCREENSHOT ??
      join(mkdtempSync(join(tmpdir(), "scalemesh-page-")), "live-page.png");
    await page.screenshot({ path, fullPage: true });
    expect(statSync(path).size).toBeGreaterThan(20_000);
  });

  it("says plainly when it has lost the coordinator", async () => {
    await mesh.coordinator.stop();
    const banner = page.locator("#lost");
    await banner.waitFor({ state: "visible", timeout: 15_000 });
    expect(await banner.textContent()).toMatch(/^Lost the coordinator at /);
    expect(await page.locator("#connection").getAttribute("data-state")).toBe("lost");
  });
});
