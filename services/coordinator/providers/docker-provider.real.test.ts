// The docker provider against a real Docker Engine (DOCKER_HOST set): start,
// list, health, replace and stop containers of a tiny image running `sleep`,
// and the engine's own error words, which the fake engine copies.
//   DOCKER_HOST=unix:///var/run/docker.sock npx vitest run services/coordinator/providers/docker-provider.real.test.ts
// SCALEMESH_TEST_DOCKER_IMAGE picks the image (default busybox:1.36); it is
// pulled through the provider when the engine does not have it.
import { randomBytes } from "node:crypto";
import Dockerode from "dockerode";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createDockerProvider,
  LABEL_MANAGED_BY,
  LABEL_POOL,
  MANAGED_BY,
  statusOf,
  WORKER_ID_ENV,
} from "./docker-provider.js";
import type { ProvidedWorker, WorkerProvider } from "./worker-provider.js";

const IMAGE = process.env.SCALEMESH_TEST_DOCKER_IMAGE ?? "busybox:1.36";
const WAIT_MS = 20_000;

describe.skipIf(!process.env.DOCKER_HOST)("docker provider against a real engine", () => {
  // A pool of its own, so nothing else on the engine is touched and leftovers are easy to find.
  const pool = `smtest-${randomBytes(3).toString("hex")}`;
  let docker: Dockerode;
  let provider: WorkerProvider;

  beforeAll(async () => {
    docker = new Dockerode();
    const hasImage = await docker
      .getImage(IMAGE)
      .inspect()
      .then(() => true)
      .catch((error: unknown) => {
        if (statusOf(error) === 404) return false;
        throw error;
      });
    provider = createDockerProvider({
      docker,
      image: IMAGE,
      workerPrefix: pool,
      env: { SCALEMESH_WORKER_COORDINATOR: "static://127.0.0.1:7070" },
      labels: { "scalemesh.test": "docker-provider.real.test" },
      pullImage: !hasImage,
      cmd: ["sleep", "3600"],
      // sleep as PID 1 ignores SIGTERM: a short timeout keeps the test quick.
      stopTimeoutSec: 1,
      logger: pino({ level: "warn" }),
    });
  });

  afterAll(async () => {
    if (!docker) return;
    const leftovers = await docker.listContainers({
      all: true,
      filters: { label: [`${LABEL_POOL}=${pool}`] },
    });
    await Promise.all(
      leftovers.map((c) => docker.getContainer(c.Id).remove({ force: true, v: true })),
    );
  });

  /** Polls list() until `check` holds, within WAIT_MS. */
  async function listUntil(
    what: string,
    check: (workers: readonly ProvidedWorker[]) => boolean,
  ): Promise<readonly ProvidedWorker[]> {
    const deadline = Date.now() + WAIT_MS;
    let workers = await provider.list();
    while (!check(workers)) {
      if (Date.now() > deadline)
        throw new Error(`no ${what} within ${WAIT_MS} ms; list() said ${JSON.stringify(workers)}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
      workers = await provider.list();
    }
    return workers;
  }

  it("starts, lists, replaces and stops worker containers", async () => {
    const ids = await provider.start(2);
    expect(ids).toHaveLength(2);
    for (const id of ids) expect(id).toMatch(new RegExp(`^${pool}-[0-9a-f]{6}$`));

    const running = await listUntil(
      "two running workers",
      (workers) => workers.length === 2 && workers.every((w) => w.state === "running"),
    );
    expect(running.map((w) => w.workerId).sort()).toEqual([...ids].sort());
    const [first = "", second = ""] = ids;
    const inspected = await docker.getContainer(first).inspect();
    expect(inspected.Config.Env).toContain(`${WORKER_ID_ENV}=${first}`);
    expect(inspected.Config.Labels).toMatchObject({
      [LABEL_MANAGED_BY]: MANAGED_BY,
      [LABEL_POOL]: pool,
    });
    expect(inspected.HostConfig.RestartPolicy?.Name).toBe("no");
    expect(await provider.health(first)).toBe("healthy");

    // The worker dies: SIGKILL, exit code 137.
    const oldId = inspected.Id;
    await docker.getContainer(first).kill();
    const afterKill = await listUntil("the killed worker failed", (workers) =>
      workers.some((w) => w.workerId === first && w.state === "failed"),
    );
    expect(afterKill.find((w) => w.workerId === first)?.detail).toMatch(
      /^Exited \(137\) .*; exit code 137$/,
    );
    expect(await provider.health(first)).toBe("unhealthy");

    await provider.replace(first);
    const replaced = await docker.getContainer(first).inspect();
    expect(replaced.Id).not.toBe(oldId);
    expect(replaced.State.Running).toBe(true);
    await listUntil("the replaced worker running", (workers) =>
      workers.some((w) => w.workerId === first && w.state === "running"),
    );

    await provider.stop([first, second, `${pool}-000000`]);
    expect(await provider.list()).toEqual([]);
    expect(await provider.health(first)).toBe("gone");
  });

  it("the engine's error words are the ones the fake engine gives", async () => {
    const name = `${pool}-words`;
    await expect(docker.getContainer(name).inspect()).rejects.toMatchObject({
      statusCode: 404,
      json: { message: `No such container: ${name}` },
    });
    const container = await docker.createContainer({
      name,
      Image: IMAGE,
      Cmd: ["sleep", "3600"],
      Labels: { [LABEL_POOL]: pool },
    });
    const { Id } = await container.inspect();
    await expect(
      docker.createContainer({ name, Image: IMAGE, Cmd: ["sleep", "3600"] }),
    ).rejects.toMatchObject({
      statusCode: 409,
      json: {
        message: `Conflict. The container name "/${name}" is already in use by container "${Id}". You have to remove (or rename) that container to be able to reuse that name.`,
      },
    });
    await container.start();
    await expect(container.start()).rejects.toMatchObject({ statusCode: 304 });
    // Older engines word this "You cannot remove a running container ...".
    await expect(container.remove()).rejects.toMatchObject({
      statusCode: 409,
      json: { message: expect.stringMatching(/running container|container is running/) },
    });
    await container.stop({ t: 1 });
    await expect(container.stop({ t: 1 })).rejects.toMatchObject({ statusCode: 304 });
    await container.remove({ v: true });
  });
});
