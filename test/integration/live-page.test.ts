// The live page in a real browser (Debian's chromium, driven by
// playwright-core) against a running mesh: it lists the workers, its task
// counter moves as tasks run, a click drains a worker (after a confirmation)
// and its row changes state, and when the coordinator goes the page says so.
// A screenshot is taken each run (SCALEMESH_SCREENSHOT=path keeps it there:
// the README's image is one).
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TaskState } from "../../libs/contracts/index.js";
import { exampleHandler, startMesh, type Mesh } from "../support/mesh.js";
import { serviceEntry, stopAll } from "../support/service-process.js";
import { serviceTokenEnv, stopTokenMesh } from "../support/token-mesh.js";
import { useBearerToken } from "../../libs/rpc/index.js";

// What the callbacks run inside the browser see (this project compiles without the DOM library).
declare const document: {
  querySelector(s: string): { getAttribute(n: string): string | null } | null;
  querySelectorAll(s: string): { length: number };
  getElementById(id: string): { textContent: string | null } | null;
};
declare const window: unknown;

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
    // No roles asked: every action is offered.
    expect(await page.locator("#role").textContent()).toBe("no roles asked");
    expect(
      await page.locator('tr[data-worker="worker-2"] button[data-action="drain"]').isVisible(),
    ).toBe(true);
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

  it("lists a dead letter, and shows its history when clicked", async () => {
    await mesh.startWorker("failing-1", [
      "--handler",
      exampleHandler("fail"),
      "--capability",
      "failing",
    ]);
    const assigned = await mesh.balancerClient.assign({
      task: {
        payload: new TextEncoder().encode("doomed"),
        requiredCapabilities: ["failing"],
        maxAttempts: 1,
      },
      awaitResult: true,
    });
    expect(assigned.result?.state).toBe(TaskState.DEAD_LETTERED);
    const taskId = assigned.taskId;
    const row = page.locator(`#failures tr[data-task="${taskId}"]`);
    await row.waitFor({ timeout: 15_000 });
    expect(await row.textContent()).toContain("this task always fails");
    await row.click();
    await page.locator("#task").waitFor({ state: "visible" });
    await page.waitForFunction(
      () => document.getElementById("task-body")?.textContent?.includes("history:"),
      undefined,
      { timeout: 10_000 },
    );
    const body = (await page.locator("#task-body").textContent()) ?? "";
    expect(body).toContain("DEAD_LETTERED");
    expect(body).toContain("failing-1");
    await page.locator('#task button[value="close"]').click();
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

describe("the live page with roles on", () => {
  const dir = mkdtempSync(join(tmpdir(), "scalemesh-page-roles-"));
  const tokens: Record<string, string> = {};
  let roleMesh: Mesh;
  let rolePage: Page;

  beforeAll(async () => {
    const cli = (...args: string[]) => {
      const run = spawnSync(process.execPath, [serviceEntry("cli"), ...args], { encoding: "utf8" });
      if (run.status !== 0) throw new Error(run.stderr);
      return run.stdout.trim();
    };
    cli("token", "keygen", dir);
    const key = join(dir, "token-signing-key.pem");
    for (const role of ["viewer", "operator", "admin", "service"])
      tokens[role] = cli("token", "create", "--key", key, "--role", role, "--holder", role);
    useBearerToken(tokens.admin);
    roleMesh = await startMesh({
      workers: 0,
      env: {
        SCALEMESH_AUTH_TOKEN_PUBLIC_KEY_FILE: join(dir, "token-public-key.pem"),
        ...serviceTokenEnv(dir, tokens.service ?? ""),
      },
    });
    const joinFile = join(dir, "worker.token");
    writeFileSync(joinFile, cli("token", "create", "--key", key, "--worker", "*"));
    await roleMesh.startWorker("worker-1", [], { SCALEMESH_WORKER_JOIN_TOKEN_FILE: joinFile });
    rolePage = await browser.newPage();
  }, 90_000);
  afterAll(() => stopTokenMesh(roleMesh, dir));

  /** Gives the page a token and waits until its new stream says the role that token holds. */
  async function useToken(token: string, role: string): Promise<void> {
    await rolePage.locator("#token").fill(token);
    await rolePage.locator("#token-form button").click();
    await rolePage.waitForFunction(
      (expected) => document.getElementById("role")?.textContent === expected,
      `role: ${role}`,
      { timeout: 15_000 },
    );
    await rolePage.locator("#connection[data-state=live]").waitFor({ timeout: 15_000 });
  }

  it("asks for a token, shows a viewer everything but offers no action", async () => {
    await rolePage.goto(`http://127.0.0.1:${roleMesh.coordinator.httpPort}/`);
    await rolePage.locator("#token-form").waitFor({ state: "visible", timeout: 15_000 });
    expect(await rolePage.locator("#lost").textContent()).toContain("asks for a role token");
    await useToken(tokens.viewer ?? "", "viewer");
    expect(await rolePage.locator("#role").textContent()).toBe("role: viewer");
    const row = rolePage.locator('tr[data-worker="worker-1"]');
    await row.waitFor();
    expect(await row.locator('button[data-action="drain"]').isVisible()).toBe(false);
    expect(await rolePage.locator("#scale-form").isVisible()).toBe(false);
  });

  it("offers an operator the actions, and they work", async () => {
    await useToken(tokens.operator ?? "", "operator");
    expect(await rolePage.locator("#role").textContent()).toBe("role: operator");
    const row = rolePage.locator('tr[data-worker="worker-1"]');
    await row.locator('button[data-action="cordon"]').click();
    await rolePage.locator("#confirm-ok").click();
    await rolePage.waitForFunction(
      () =>
        document.querySelector('tr[data-worker="worker-1"]')?.getAttribute("data-state") ===
        "cordoned",
      undefined,
      { timeout: 15_000 },
    );
    expect(await rolePage.locator("#toast").textContent()).toBe("worker-1 is cordoned");
  });
});
