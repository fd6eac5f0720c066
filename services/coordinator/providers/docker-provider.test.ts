import { inspect } from "node:util";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  startFakeDockerEngine,
  type FakeDockerEngine,
} from "../../../test/support/fake-docker-engine.js";
import {
  createDockerProvider,
  healthOfContainer,
  LABEL_MANAGED_BY,
  LABEL_POOL,
  LABEL_WORKER_ID,
  MANAGED_BY,
  providedStateOf,
  WORKER_ID_ENV,
  type ContainerStateView,
  type DockerProviderOptions,
} from "./docker-provider.js";
import type { ProvidedState, WorkerHealth } from "./worker-provider.js";

const IMAGE = "scalemesh:test";
const PASSWORD = "s3cret-Pa55word-7c1d";

let engine: FakeDockerEngine;

beforeAll(async () => {
  engine = await startFakeDockerEngine();
  engine.addImage(IMAGE);
  engine.addNetwork("mesh");
});

afterAll(async () => {
  await engine.close();
});

/** A provider on the fake engine whose log lines are kept (at trace level, so nothing is filtered out). */
function providerOn(pool: string, overrides: Partial<DockerProviderOptions> = {}) {
  const logLines: string[] = [];
  const logger = pino({ level: "trace" }, { write: (line: string) => void logLines.push(line) });
  const provider = createDockerProvider({
    docker: engine.docker(),
    image: IMAGE,
    workerPrefix: pool,
    env: { SCALEMESH_WORKER_COORDINATOR: "static://coordinator:7070" },
    logger,
    ...overrides,
  });
  return { provider, logLines };
}

/** A random source that gives these values in turn (then repeats the last). */
function sequence(...values: number[]): () => number {
  let i = 0;
  return () => values[Math.min(i++, values.length - 1)] ?? 0;
}

const hexId = (n: number) => n / 0x1000000;
const ownLabels = (pool: string, workerId: string) => ({
  [LABEL_WORKER_ID]: workerId,
  [LABEL_MANAGED_BY]: MANAGED_BY,
  [LABEL_POOL]: pool,
});
const poolContainers = (pool: string) =>
  engine.containers().filter((c) => c.labels[LABEL_POOL] === pool);

async function rejectionOf(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof Error) return error;
    throw new Error(`rejected with a non-Error: ${String(error)}`);
  }
  throw new Error("expected a rejection");
}

describe("docker provider: start", () => {
  it("creates and starts one container per worker, named and labelled by its id, with the id in its env and no restart policy", async () => {
    const { provider } = providerOn("p-start", {
      network: "mesh",
      // The scalemesh.* labels and the worker id env are the provider's, whatever the caller passes.
      labels: { team: "search", [LABEL_POOL]: "spoofed" },
      env: {
        SCALEMESH_WORKER_COORDINATOR: "static://coordinator:7070",
        [WORKER_ID_ENV]: "spoofed",
      },
      random: sequence(hexId(0xabc123), hexId(0x00000f)),
    });

    const ids = await provider.start(2);

    expect(ids).toEqual(["p-start-abc123", "p-start-00000f"]);
    for (const id of ids) {
      const container = engine.container(id);
      expect(container).toMatchObject({
        name: id,
        image: IMAGE,
        status: "running",
        cmd: ["worker-agent"],
        labels: { team: "search", ...ownLabels("p-start", id) },
        hostConfig: { RestartPolicy: { Name: "no" }, NetworkMode: "mesh" },
      });
      expect(container?.env).toEqual([
        "SCALEMESH_WORKER_COORDINATOR=static://coordinator:7070",
        `${WORKER_ID_ENV}=${id}`,
      ]);
    }
  });

  it("sends only the name in the create URL, keeping the env out of URLs the engine may log", async () => {
    const { provider } = providerOn("p-url", {
      env: { SCALEMESH_WORKER_COORDINATOR: "static://c:7070", TOKEN_LIKE: "do-not-log-me" },
    });

    const [id] = await provider.start(1);

    const creates = engine.requests.filter(
      (r) => r.path === "/containers/create" && r.query.name === id,
    );
    expect(creates).toHaveLength(1);
    expect(creates[0]?.query).toEqual({ name: id });
    expect(engine.container(id ?? "")?.env).toContain("TOKEN_LIKE=do-not-log-me");
  });

  it("draws another worker id when the name is taken", async () => {
    engine.addContainer({ name: "p-taken-000001", image: IMAGE, status: "running" });
    const { provider, logLines } = providerOn("p-taken", { random: sequence(hexId(1), hexId(2)) });

    expect(await provider.start(1)).toEqual(["p-taken-000002"]);
    expect(engine.container("p-taken-000001")?.labels).toEqual({});
    expect(logLines.join("")).toContain("container name taken");
  });

  it("on a failed create removes what that call created and rejects naming the image and the engine's message", async () => {
    const { provider } = providerOn("p-fail");
    const [survivor] = await provider.start(1);
    engine.failNext(
      "create",
      { status: 500, message: "devmapper: Thin Pool has 0 free data blocks" },
      { after: 2 },
    );

    const error = await rejectionOf(provider.start(3));

    expect(error.message).toContain(`from image ${IMAGE}`);
    expect(error.message).toContain("devmapper: Thin Pool has 0 free data blocks");
    expect(error.message).toContain("removed the 2 container(s) it created");
    expect(poolContainers("p-fail").map((c) => c.name)).toEqual([survivor]);
  });

  it("on a failed start (unknown network) removes the container and says what the engine said", async () => {
    const { provider } = providerOn("p-nonet", { network: "nonet" });

    const error = await rejectionOf(provider.start(2));

    expect(error.message).toMatch(
      /could not start worker p-nonet-[0-9a-f]{6} from image scalemesh:test: network nonet not found/,
    );
    expect(poolContainers("p-nonet")).toEqual([]);
  });

  it("rejects naming the image when it is not there and pulling is off", async () => {
    const { provider } = providerOn("p-noimage", { image: "scalemesh:absent" });

    const error = await rejectionOf(provider.start(1));

    expect(error.message).toContain("from image scalemesh:absent: No such image: scalemesh:absent");
    expect(poolContainers("p-noimage")).toEqual([]);
  });

  it("starts nothing for a count of zero", async () => {
    const { provider } = providerOn("p-zero");
    const before = engine.requests.length;

    expect(await provider.start(0)).toEqual([]);
    expect(engine.requests.length).toBe(before);
  });

  it("refuses a worker prefix that cannot start a container name", () => {
    expect(() => providerOn("bad prefix")).toThrow(/worker prefix "bad prefix"/);
  });
});

describe("docker provider: pulls and registry credentials", () => {
  const registryImage = "registry.example.com:5000/team/worker:1.2";
  const auth = {
    username: "deploy",
    password: PASSWORD,
    serveraddress: "registry.example.com:5000",
  };

  beforeAll(() => {
    engine.addRemoteImage(registryImage, {
      credentials: { username: auth.username, password: auth.password },
    });
    engine.addRemoteImage("registry.example.com:5000/team/broken:1", {
      credentials: { username: auth.username, password: auth.password },
      failMidway: "failed to register layer: no space left on device",
    });
  });

  it("pulls the image with the credentials before starting", async () => {
    const { provider } = providerOn("p-pull", {
      image: registryImage,
      pullImage: true,
      registryAuth: auth,
    });

    const [id] = await provider.start(1);

    const pull = engine.pulls.findLast((p) => p.image === registryImage);
    expect(pull).toMatchObject({
      outcome: "pulled",
      auth: { username: "deploy", password: PASSWORD, serveraddress: "registry.example.com:5000" },
    });
    expect(engine.hasImage(registryImage)).toBe(true);
    expect(engine.container(id ?? "")?.status).toBe("running");
  });

  // Each case: what the registry or engine does, and what the error must say.
  const failureCases = [
    {
      name: "wrong password",
      image: registryImage,
      password: `${PASSWORD}-old`,
      expected:
        'Head "https://registry.example.com:5000/v2/team/worker/manifests/1.2": unauthorized: incorrect username or password',
    },
    {
      name: "image not in the registry",
      image: "registry.example.com:5000/team/missing:9",
      password: PASSWORD,
      expected: "pull access denied for registry.example.com:5000/team/missing",
    },
    {
      name: "failure midway through the stream",
      image: "registry.example.com:5000/team/broken:1",
      password: PASSWORD,
      expected: "failed to register layer: no space left on device",
    },
  ];

  for (const c of failureCases) {
    it(`a failed pull (${c.name}) rejects naming the image and the registry's words, and the password appears nowhere`, async () => {
      const { provider, logLines } = providerOn(`p-auth-${failureCases.indexOf(c)}`, {
        image: c.image,
        pullImage: true,
        registryAuth: { ...auth, password: c.password },
      });

      const error = await rejectionOf(provider.start(1));

      expect(error.message).toContain(`could not pull image ${c.image}`);
      expect(error.message).toContain(c.expected);
      expectNoSecret(c.password, { logLines, error });
      expect(poolContainers(`p-auth-${failureCases.indexOf(c)}`)).toEqual([]);
    });
  }

  it("keeps the password out of everything on a successful run too: logs, returned ids, list, health, and a later create failure", async () => {
    const pool = "p-auth-ok";
    const { provider, logLines } = providerOn(pool, {
      image: registryImage,
      pullImage: true,
      registryAuth: auth,
    });

    const ids = await provider.start(2);
    const listed = await provider.list();
    const health = await provider.health(ids[0] ?? "");
    engine.failNext("create", { status: 500, message: "no space left on device" });
    const error = await rejectionOf(provider.start(1));
    await provider.stop(ids);

    expect(listed).toHaveLength(2);
    expect(health).toBe("healthy");
    expectNoSecret(PASSWORD, { logLines, error, returned: [ids, listed, health] });
    // Nor anywhere in the containers: credentials are for the pull alone.
    expect(JSON.stringify(engine.containers())).not.toContain(PASSWORD);
  });
});

/** The secret, its base64 forms and X-Registry-Auth's encoding appear in no log line, no part of the error, and nothing returned. */
function expectNoSecret(
  password: string,
  seen: { logLines: readonly string[]; error: Error; returned?: unknown },
): void {
  const forms = [
    password,
    Buffer.from(password).toString("base64"),
    Buffer.from(password).toString("base64url"),
  ];
  const texts = [
    ...seen.logLines,
    seen.error.message,
    seen.error.stack ?? "",
    String(seen.error),
    JSON.stringify(seen.error, Object.getOwnPropertyNames(seen.error)),
    inspect(seen.error, { depth: Number.POSITIVE_INFINITY, showHidden: true }),
    JSON.stringify(seen.returned ?? null),
  ];
  expect(seen.logLines.length).toBeGreaterThan(0);
  for (const text of texts) for (const form of forms) expect(text).not.toContain(form);
  // The whole X-Registry-Auth value neither.
  for (const text of texts) expect(text).not.toMatch(/eyJ1c2VybmFtZSI6/);
}

describe("docker provider: list", () => {
  it("reports each of its pool's containers from the engine's State, with the Status text and exit code", async () => {
    const pool = "p-list";
    const { provider } = providerOn(pool, {
      random: sequence(hexId(0xa), hexId(0xb), hexId(0xc), hexId(0xd), hexId(0xe)),
    });
    const [running, clean, crashed, oom, dead] = await provider.start(5);
    engine.exitContainer(clean ?? "", 0);
    engine.exitContainer(crashed ?? "", 3);
    engine.exitContainer(oom ?? "", 137, { isOomKilled: true });
    engine.killToDead(dead ?? "");
    engine.addContainer({
      name: `${pool}-00000f`,
      image: IMAGE,
      labels: ownLabels(pool, `${pool}-00000f`),
      status: "created",
    });
    // Not this pool's: another pool's worker, and a container nobody labelled.
    engine.addContainer({
      name: "p-other-000001",
      image: IMAGE,
      labels: ownLabels("p-other", "p-other-000001"),
      status: "running",
    });
    engine.addContainer({ name: `${pool}-unlabelled`, image: IMAGE, status: "running" });

    const workers = await provider.list();

    const byId = new Map(workers.map((w) => [w.workerId, w]));
    expect([...byId.keys()].sort()).toEqual(
      [running, clean, crashed, oom, dead, `${pool}-00000f`].sort(),
    );
    const expected: Record<string, { state: ProvidedState; detail: RegExp }> = {
      [running ?? ""]: { state: "running", detail: /^Up (Less than a second|\d+ seconds?)$/ },
      [clean ?? ""]: { state: "exited", detail: /^Exited \(0\) .* ago; exit code 0$/ },
      [crashed ?? ""]: { state: "failed", detail: /^Exited \(3\) .* ago; exit code 3$/ },
      [oom ?? ""]: {
        state: "failed",
        detail: /^Exited \(137\) .* ago; exit code 137; killed out of memory$/,
      },
      [dead ?? ""]: {
        state: "failed",
        detail: /^Dead; exit code 137; driver failed to remove root filesystem$/,
      },
      [`${pool}-00000f`]: { state: "starting", detail: /^Created$/ },
    };
    for (const [id, want] of Object.entries(expected)) {
      expect(byId.get(id)?.state, id).toBe(want.state);
      expect(byId.get(id)?.detail, id).toMatch(want.detail);
    }
    expect(byId.get(running ?? "")?.startedAtMs).toBeGreaterThan(Date.now() - 60_000);
    expect(byId.get(`${pool}-00000f`)?.startedAtMs).toBeUndefined();
  });

  it("holds a worker whose image has a HEALTHCHECK at starting until its first passing check", async () => {
    engine.addImage("scalemesh:healthcheck", { hasHealthcheck: true });
    const { provider } = providerOn("p-hc", { image: "scalemesh:healthcheck" });
    const [id = ""] = await provider.start(1);

    expect(await provider.list()).toMatchObject([
      { workerId: id, state: "starting", detail: expect.stringContaining("(health: starting)") },
    ]);
    engine.setHealth(id, "healthy");
    expect(await provider.list()).toMatchObject([
      { workerId: id, state: "running", detail: expect.stringContaining("(healthy)") },
    ]);
    engine.setHealth(id, "unhealthy");
    expect(await provider.list()).toMatchObject([
      { workerId: id, state: "running", detail: expect.stringContaining("(unhealthy)") },
    ]);
    expect(await provider.health(id)).toBe("unhealthy");
  });

  it("rejects with the engine's message when the engine fails", async () => {
    const { provider } = providerOn("p-list-fail");
    engine.failNext("list", { status: 500, message: "Cannot connect to the containerd daemon" });

    await expect(provider.list()).rejects.toThrow(
      "could not list the containers of pool p-list-fail: Cannot connect to the containerd daemon",
    );
  });
});

describe("docker provider: stop", () => {
  it("stops each container with the timeout, then removes it with its anonymous volumes", async () => {
    const { provider } = providerOn("p-stop", { stopTimeoutSec: 3 });
    const ids = await provider.start(2);
    const dockerIds = ids.map((id) => engine.container(id)?.id);

    await provider.stop(ids);

    expect(poolContainers("p-stop")).toEqual([]);
    for (const dockerId of dockerIds) {
      expect(
        engine.requests.find(
          (r) => r.method === "POST" && r.path === `/containers/${dockerId}/stop`,
        )?.query.t,
      ).toBe("3");
      expect(
        engine.requests.find((r) => r.method === "DELETE" && r.path === `/containers/${dockerId}`)
          ?.query,
      ).toMatchObject({ v: "true", force: "false" });
    }
  });

  it("takes a worker whose container is gone, or has already exited, as stopped", async () => {
    const { provider } = providerOn("p-stop-gone");
    const [exited = ""] = await provider.start(1);
    engine.exitContainer(exited, 0);

    await provider.stop([exited, "p-stop-gone-ffffff"]);

    expect(poolContainers("p-stop-gone")).toEqual([]);
  });

  it("leaves a container of that name that is not its pool's alone, and says so", async () => {
    engine.addContainer({
      name: "p-stop-foreign-000001",
      image: IMAGE,
      labels: { app: "postgres" },
      status: "running",
    });
    const { provider } = providerOn("p-stop-foreign");
    const [own = ""] = await provider.start(1);

    await expect(provider.stop(["p-stop-foreign-000001", own])).rejects.toThrow(
      /1 of 2 workers not stopped: .*container p-stop-foreign-000001 is not a worker of pool p-stop-foreign/,
    );
    expect(engine.container("p-stop-foreign-000001")?.status).toBe("running");
    expect(engine.container(own)).toBeUndefined();
  });
});

describe("docker provider: replace", () => {
  it("removes the dead container and starts a new one under the same name, labels and worker id", async () => {
    const { provider } = providerOn("p-replace");
    const [id = ""] = await provider.start(1);
    const before = engine.container(id);
    engine.exitContainer(id, 1);

    await provider.replace(id);

    const after = engine.container(id);
    expect(after?.id).not.toBe(before?.id);
    expect(after).toMatchObject({
      name: id,
      status: "running",
      labels: before?.labels,
      env: before?.env,
    });
    expect(await provider.list()).toMatchObject([{ workerId: id, state: "running" }]);
  });

  it("force-removes a container that still runs or is paused (hung, as the coordinator saw it)", async () => {
    const { provider } = providerOn("p-replace-hung");
    const [hung = "", paused = ""] = await provider.start(2);
    engine.pauseContainer(paused);
    const oldIds = [engine.container(hung)?.id, engine.container(paused)?.id];

    await provider.replace(hung);
    await provider.replace(paused);

    expect([engine.container(hung)?.id, engine.container(paused)?.id]).not.toContain(oldIds[0]);
    expect(engine.container(paused)?.id).not.toBe(oldIds[1]);
    expect(poolContainers("p-replace-hung").map((c) => c.status)).toEqual(["running", "running"]);
  });

  it("starts a worker whose container is gone altogether", async () => {
    const { provider } = providerOn("p-replace-gone");

    await provider.replace("p-replace-gone-123456");

    expect(engine.container("p-replace-gone-123456")).toMatchObject({
      status: "running",
      labels: ownLabels("p-replace-gone", "p-replace-gone-123456"),
    });
  });

  it("removes the new container when it cannot start, and rejects with the engine's message", async () => {
    const { provider } = providerOn("p-replace-fail");
    const [id = ""] = await provider.start(1);
    engine.exitContainer(id, 1);
    engine.failNext("start", {
      status: 500,
      message: "OCI runtime create failed: unable to start container process",
    });

    await expect(provider.replace(id)).rejects.toThrow(
      `could not start worker ${id} from image ${IMAGE}: OCI runtime create failed: unable to start container process; removed the 1 container(s) it created`,
    );
    expect(engine.container(id)).toBeUndefined();
  });
});

describe("docker provider: health", () => {
  it("answers the platform's view of each worker", async () => {
    engine.addImage("scalemesh:hc2", { hasHealthcheck: true });
    const { provider } = providerOn("p-health");
    const { provider: checked } = providerOn("p-health", { image: "scalemesh:hc2" });
    const [running = "", exited = ""] = await provider.start(2);
    const [starting = "", passing = ""] = await checked.start(2);
    engine.exitContainer(exited, 0);
    engine.setHealth(passing, "healthy");
    engine.addContainer({ name: "p-health-foreign", image: IMAGE, status: "running" });

    const cases: [string, string, WorkerHealth][] = [
      ["running without a healthcheck", running, "healthy"],
      ["exited", exited, "unhealthy"],
      ["healthcheck starting", starting, "unknown"],
      ["healthcheck passing", passing, "healthy"],
      ["no container", "p-health-000000", "gone"],
      ["another's container of that name", "p-health-foreign", "gone"],
    ];
    for (const [name, id, want] of cases) expect(await provider.health(id), name).toBe(want);

    engine.failNext("inspect", { status: 500, message: "context deadline exceeded" });
    expect(await provider.health(running)).toBe("unknown");
  });
});

describe("docker provider: API versions", () => {
  it("works with a client that sends versioned paths, and reports an engine that refuses the version", async () => {
    const { provider } = providerOn("p-v144", { docker: engine.docker({ version: "v1.44" }) });
    const [id = ""] = await provider.start(1);
    expect(await provider.list()).toMatchObject([{ workerId: id, state: "running" }]);
    await provider.stop([id]);
    expect(engine.requests.filter((r) => r.query.name === id).map((r) => r.version)).toEqual([
      "1.44",
    ]);

    const { provider: tooNew } = providerOn("p-v199", {
      docker: engine.docker({ version: "v1.99" }),
    });
    await expect(tooNew.start(1)).rejects.toThrow(
      "client version 1.99 is too new. Maximum supported API version is 1.47",
    );
  });
});

describe("the fake engine answers as dockerd does", () => {
  it("with the engine's status codes and messages for a missing container and a taken name", async () => {
    const docker = engine.docker();
    await expect(docker.getContainer("nope-404").inspect()).rejects.toMatchObject({
      statusCode: 404,
      json: { message: "No such container: nope-404" },
    });
    const taken = engine.addContainer({ name: "fake-conflict", image: IMAGE, status: "running" });
    await expect(
      docker.createContainer({ name: "fake-conflict", Image: IMAGE }),
    ).rejects.toMatchObject({
      statusCode: 409,
      json: {
        message: `Conflict. The container name "/fake-conflict" is already in use by container "${taken.id}". You have to remove (or rename) that container to be able to reuse that name.`,
      },
    });
    await expect(docker.getContainer("fake-conflict").remove()).rejects.toMatchObject({
      statusCode: 409,
      json: {
        message: expect.stringContaining(
          "container is running: stop the container before removing or force remove",
        ),
      },
    });
    await expect(docker.getContainer("fake-conflict").start()).rejects.toMatchObject({
      statusCode: 304,
    });
    await expect(docker.listContainers({ filters: { bogus: ["x"] } })).rejects.toMatchObject({
      statusCode: 400,
      json: { message: "invalid filter 'bogus'" },
    });
    expect(String(await docker.ping())).toBe("OK");
  });
});

describe("container state mapping", () => {
  const state = (Status: string, extra: Partial<ContainerStateView> = {}): ContainerStateView => ({
    Status,
    ExitCode: 0,
    OOMKilled: false,
    ...extra,
  });
  const cases: [string, ContainerStateView, ProvidedState, WorkerHealth][] = [
    ["created", state("created"), "starting", "unknown"],
    ["running", state("running"), "running", "healthy"],
    [
      "running, health starting",
      state("running", { Health: { Status: "starting" } }),
      "starting",
      "unknown",
    ],
    ["running, healthy", state("running", { Health: { Status: "healthy" } }), "running", "healthy"],
    [
      "running, unhealthy",
      state("running", { Health: { Status: "unhealthy" } }),
      "running",
      "unhealthy",
    ],
    [
      "running, health none",
      state("running", { Health: { Status: "none" } }),
      "running",
      "healthy",
    ],
    ["paused", state("paused"), "running", "unhealthy"],
    ["restarting", state("restarting"), "starting", "unknown"],
    ["removing", state("removing"), "stopping", "gone"],
    ["exited 0", state("exited"), "exited", "unhealthy"],
    [
      "exited 0 after a stale healthy check",
      state("exited", { Health: { Status: "healthy" } }),
      "exited",
      "unhealthy",
    ],
    ["exited 1", state("exited", { ExitCode: 1 }), "failed", "unhealthy"],
    ["exited 0 but OOM-killed", state("exited", { OOMKilled: true }), "failed", "unhealthy"],
    ["dead", state("dead"), "failed", "unhealthy"],
  ];
  it.each(cases)("%s → %s / %s", (_name, given, provided, health) => {
    expect(providedStateOf(given)).toBe(provided);
    expect(healthOfContainer(given)).toBe(health);
  });
});
