// Services finding each other with no hand-kept list, against real registries
// started here: etcd (registration on leases, watched) and dnsmasq (DNS SRV).
// Every process is a real child process; the only addresses the workers,
// balancer and clients are given are discovery URIs.
import { spawnSync } from "node:child_process";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Etcd3 } from "etcd3";
import { Admin, Balancer, TaskState, WorkerState } from "../../libs/contracts/index.js";
import { createRpcClient, type RpcClient } from "../../libs/rpc/index.js";
import { startDnsmasq, type Dnsmasq } from "../support/dnsmasq.js";
import { startFakeConsul, type FakeConsul } from "../support/fake-consul.js";
import { startEtcdServer, type EtcdServer } from "../support/etcd-server.js";
import { FAST_FAILURE_ENV, exampleHandler, freshLedgerPath } from "../support/mesh.js";
import { serviceEntry, startService, type ServiceProcess } from "../support/service-process.js";

const started: ServiceProcess[] = [];
const clients: { close(): void }[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await Promise.all(started.splice(0).map((p) => p.stop("SIGKILL").catch(() => undefined)));
});

async function start(
  kind: "coordinator" | "balancer" | "worker-agent",
  env: Record<string, string>,
  args: readonly string[] = [],
): Promise<ServiceProcess> {
  const process = await startService(kind, {
    env: { ...FAST_FAILURE_ENV, ...env },
    args,
    ...(kind === "worker-agent" ? { readyMessage: "worker registered", timeoutMs: 20_000 } : {}),
  });
  started.push(process);
  return process;
}

function coordinatorEnv(
  ledgerPath: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    SCALEMESH_LEDGER_PATH: ledgerPath,
    SCALEMESH_COORDINATOR_GRPC_PORT: "0",
    SCALEMESH_COORDINATOR_HTTP_PORT: "0",
    SCALEMESH_COORDINATOR_OPTIMIZER: "",
    ...extra,
  };
}

function workerArgs(coordinatorUri: string, workerId: string): string[] {
  return [
    "--coordinator",
    coordinatorUri,
    "--worker-id",
    workerId,
    "--handler",
    exampleHandler("echo"),
    "--http-port",
    "0",
    "--slots",
    "2",
  ];
}

function client<T extends { close(): void }>(made: T): T {
  clients.push(made);
  return made;
}

async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(
    `${what} did not happen within ${timeoutMs} ms${lastError ? `; last error: ${String(lastError)}` : ""}`,
  );
}

async function aliveWorkers(admin: RpcClient<typeof Admin>): Promise<string[]> {
  const { workers } = await admin.listWorkers({});
  return workers.filter((w) => w.state === WorkerState.ALIVE).map((w) => w.spec?.workerId ?? "");
}

async function assignAndAwait(
  balancer: RpcClient<typeof Balancer>,
  payload: string,
): Promise<{ state: TaskState; output: string; workerId: string }> {
  const assigned = await balancer.assign({ task: { payload: new TextEncoder().encode(payload) } });
  const { task } = await balancer.awaitTask({ taskId: assigned.taskId }, { timeoutMs: 15_000 });
  return {
    state: task?.state ?? TaskState.UNSPECIFIED,
    output: new TextDecoder().decode(task?.output),
    workerId: task?.workerId ?? "",
  };
}

describe("discovery through a real etcd", () => {
  let etcd: EtcdServer;
  let etcdClient: Etcd3;
  beforeAll(async () => {
    etcd = await startEtcdServer();
    etcdClient = new Etcd3({ hosts: `http://${etcd.clientAddress}` });
  });
  afterAll(async () => {
    etcdClient?.close();
    await etcd?.close();
  });

  const registered = async (prefix: string): Promise<Record<string, string>> =>
    etcdClient.getAll().prefix(prefix).strings();

  it("a worker given only an etcd:// URI joins, tasks flow, and a coordinator that moves is followed", async () => {
    const coordinatorUri = etcd.uri("/scalemesh/coordinator", 2);
    // A long TTL: only a deregistration can remove the balancer's key within this test.
    const balancerUri = etcd.uri("/scalemesh/balancer", 30);
    const ledgerPath = freshLedgerPath();

    const first = await start(
      "coordinator",
      coordinatorEnv(ledgerPath, { SCALEMESH_COORDINATOR_REGISTER: coordinatorUri }),
    );
    const balancer = await start("balancer", {
      SCALEMESH_BALANCER_GRPC_PORT: "0",
      SCALEMESH_BALANCER_HTTP_PORT: "0",
      SCALEMESH_BALANCER_COORDINATOR: coordinatorUri,
      SCALEMESH_BALANCER_REGISTER: balancerUri,
    });
    await start("worker-agent", {}, workerArgs(coordinatorUri, "etcd-worker-1"));

    // What the registry holds: the coordinator's real port, region and zone.
    const coordinatorKeys = await eventually("the coordinator's registration", async () => {
      const keys = await registered("/scalemesh/coordinator/");
      return Object.keys(keys).length === 1 ? keys : undefined;
    });
    const record = JSON.parse(Object.values(coordinatorKeys)[0] as string) as {
      address: string;
      region: string;
      zone: string;
    };
    expect(record.address).toBe(`127.0.0.1:${first.grpcPort}`);
    expect(record).toMatchObject({ region: "local", zone: "local-a" });

    // The client finds the balancer through etcd too, and the task runs end to end.
    const balancerClient = client(
      createRpcClient(Balancer, balancerUri, {
        defaultDeadlineMs: 10_000,
        balancing: "round_robin",
      }),
    );
    const firstTask = await eventually("a task through the balancer found in etcd", async () =>
      assignAndAwait(balancerClient, "via etcd"),
    );
    expect(firstTask).toMatchObject({
      state: TaskState.SUCCEEDED,
      output: "VIA ETCD",
      workerId: "etcd-worker-1",
    });

    // SIGKILL: no deregistration, so the lease's expiry is what removes the key.
    await first.stop("SIGKILL");
    await eventually("the killed coordinator's key to expire with its lease", async () =>
      Object.keys(await registered("/scalemesh/coordinator/")).length === 0 ? true : undefined,
    );

    // A new coordinator on another port, same ledger: the worker and the balancer follow it without a restart.
    const second = await start(
      "coordinator",
      coordinatorEnv(ledgerPath, { SCALEMESH_COORDINATOR_REGISTER: coordinatorUri }),
    );
    expect(second.grpcPort).not.toBe(first.grpcPort);
    const admin = client(createRpcClient(Admin, coordinatorUri));
    await eventually("the worker registered with the new coordinator", async () =>
      (await aliveWorkers(admin)).includes("etcd-worker-1") ? true : undefined,
    );
    const secondTask = await eventually("a task after the coordinator moved", async () =>
      assignAndAwait(balancerClient, "moved"),
    );
    expect(secondTask).toMatchObject({ state: TaskState.SUCCEEDED, output: "MOVED" });

    // A graceful stop deregisters at once (the 30 s lease could not have expired).
    expect(Object.keys(await registered("/scalemesh/balancer/"))).toHaveLength(1);
    expect(await balancer.stop("SIGTERM")).toBe(0);
    expect(Object.keys(await registered("/scalemesh/balancer/"))).toHaveLength(0);
    expect(balancer.logs.some((line) => line.msg === "deregistered from etcd")).toBe(true);
  });

  it("the CLI finds the coordinator through etcd, and says which URI lists nothing", async () => {
    const coordinatorUri = etcd.uri("/scalemesh/cli-coordinator", 2);
    await start(
      "coordinator",
      coordinatorEnv(freshLedgerPath(), { SCALEMESH_COORDINATOR_REGISTER: coordinatorUri }),
    );
    await start("worker-agent", {}, workerArgs(coordinatorUri, "cli-worker"));

    const status = spawnSync(
      process.execPath,
      [serviceEntry("cli"), "workers", "--coordinator", coordinatorUri],
      { encoding: "utf8", timeout: 20_000 },
    );
    expect(status.status, status.stderr).toBe(0);
    expect(status.stdout).toContain("cli-worker");

    const emptyUri = etcd.uri("/scalemesh/nobody-here");
    const refused = spawnSync(
      process.execPath,
      [serviceEntry("cli"), "workers", "--coordinator", emptyUri],
      { encoding: "utf8", timeout: 20_000 },
    );
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain("UNAVAILABLE");
    expect(refused.stderr).toContain(emptyUri);
  });
});

describe("discovery through a real DNS server (dnsmasq, SRV records)", () => {
  let dns: Dnsmasq | undefined;
  afterAll(async () => {
    await dns?.close();
  });

  it("a worker given only a dns+srv:// URI joins, and follows the record to another coordinator", async () => {
    const a = await start("coordinator", coordinatorEnv(freshLedgerPath()));
    const b = await start("coordinator", coordinatorEnv(freshLedgerPath()));
    dns = await startDnsmasq(
      {
        srv: [
          {
            name: "_coordinator._tcp.mesh.test",
            target: "coordinator-a.mesh.test",
            port: a.grpcPort,
          },
        ],
        addresses: [
          { name: "coordinator-a.mesh.test", address: "127.0.0.1" },
          { name: "coordinator-b.mesh.test", address: "127.0.0.1" },
        ],
      },
      { ttlSec: 1 },
    );
    const uri = `dns+srv://${dns.server}/_coordinator._tcp.mesh.test?interval_sec=1`;
    await start("worker-agent", {}, workerArgs(uri, "dns-worker-1"));
    const adminA = client(createRpcClient(Admin, `127.0.0.1:${a.grpcPort}`));
    const adminB = client(createRpcClient(Admin, `127.0.0.1:${b.grpcPort}`));
    expect(await aliveWorkers(adminA)).toEqual(["dns-worker-1"]);

    // The record now names coordinator B; once A goes away the worker's channel already points at B.
    await dns.setRecords({
      srv: [
        {
          name: "_coordinator._tcp.mesh.test",
          target: "coordinator-b.mesh.test",
          port: b.grpcPort,
        },
      ],
      addresses: [{ name: "coordinator-b.mesh.test", address: "127.0.0.1" }],
    });
    const before = dns.queryCount();
    await eventually("the worker to ask DNS again", async () =>
      dns && dns.queryCount() > before + 1 ? true : undefined,
    );
    expect(await a.stop("SIGTERM")).toBe(0);
    await eventually("the worker to join coordinator B", async () =>
      (await aliveWorkers(adminB)).includes("dns-worker-1") ? true : undefined,
    );
  });
});

describe("discovery through a Consul agent (the fake, which runs the registered health checks)", () => {
  let consul: FakeConsul | undefined;
  afterAll(async () => {
    await consul?.close();
  });

  it("services register with gRPC and HTTP checks, a worker finds the coordinator through them, and a stop deregisters", async () => {
    consul = await startFakeConsul({ minimumDeregisterAfterMs: 1_000, reapIntervalMs: 200 });
    const agent = consul;
    const coordinatorUri = `consul://${agent.address}/scalemesh-coordinator?check_interval=1s&deregister_after=1s`;
    const coordinator = await start(
      "coordinator",
      coordinatorEnv(freshLedgerPath(), { SCALEMESH_COORDINATOR_REGISTER: coordinatorUri }),
    );
    const workerUri = `consul://${agent.address}/scalemesh-worker?check_interval=1s`;
    await start(
      "worker-agent",
      { SCALEMESH_WORKER_REGISTER: workerUri },
      workerArgs(`consul://${agent.address}/scalemesh-coordinator`, "consul-worker-1"),
    );

    // The agent lists the coordinator once its gRPC health check passes, and the worker's once /readyz answers 200.
    const listed = await eventually("both services passing their checks in Consul", async () => {
      const services = agent.services();
      const coordinatorView = services.find((svc) => svc.name === "scalemesh-coordinator");
      const workerView = services.find((svc) => svc.name === "scalemesh-worker");
      const isPassing = (svc: typeof coordinatorView) =>
        svc !== undefined && svc.checks.every((c) => c.status === "passing");
      return isPassing(coordinatorView) && isPassing(workerView)
        ? { coordinatorView, workerView }
        : undefined;
    });
    expect(listed.coordinatorView).toMatchObject({
      port: coordinator.grpcPort,
      tags: expect.arrayContaining(["region:local", "zone:local-a"]),
    });
    expect(listed.coordinatorView?.checks[0]).toMatchObject({
      type: "grpc",
      target: `127.0.0.1:${coordinator.grpcPort}`,
    });
    expect(listed.workerView?.checks[0]).toMatchObject({
      type: "http",
      target: expect.stringMatching(/\/readyz$/),
    });
    expect(listed.workerView?.id).toBe("consul-worker-1");

    const admin = client(createRpcClient(Admin, `127.0.0.1:${coordinator.grpcPort}`));
    expect(await aliveWorkers(admin)).toEqual(["consul-worker-1"]);

    // SIGTERM: deregistered at once, not left to go critical.
    expect(await coordinator.stop("SIGTERM")).toBe(0);
    expect(agent.services().some((svc) => svc.name === "scalemesh-coordinator")).toBe(false);
  });
});

/** Every line a service process wrote, log and stderr. */
function everyLine(processes: readonly ServiceProcess[]): string[] {
  return processes.flatMap((p) => [...p.logs.map((line) => JSON.stringify(line)), ...p.stderr]);
}

describe("discovery with credentials: etcd's user and password, a Consul ACL token", () => {
  let etcd: EtcdServer | undefined;
  let consul: FakeConsul | undefined;
  afterAll(async () => {
    await etcd?.close();
    await consul?.close();
  });

  it("registers in an etcd with auth on through ETCDCTL_USER, which a client without it cannot read, and logs no password", async () => {
    const password = "etcd-pw-6d1f0c8a9e";
    etcd = await startEtcdServer();
    const root = new Etcd3({ hosts: `http://${etcd.clientAddress}` });
    await root.role("root").create();
    await (await root.user("root").create(password)).addRole("root");
    await root.auth.authEnable();
    root.close();

    const coordinator = await start(
      "coordinator",
      coordinatorEnv(freshLedgerPath(), {
        SCALEMESH_COORDINATOR_REGISTER: etcd.uri("/scalemesh/coordinator", 5),
        ETCDCTL_USER: `root:${password}`,
      }),
    );
    const authed = client(
      new Etcd3({
        hosts: `http://${etcd.clientAddress}`,
        auth: { username: "root", password },
      }),
    );
    const keys = await eventually("the coordinator's key in etcd", async () => {
      const found = await authed.getAll().prefix("/scalemesh/coordinator").strings();
      return Object.keys(found).length > 0 ? found : undefined;
    });
    expect(Object.values(keys).join()).toContain(String(coordinator.grpcPort));
    const anonymous = client(new Etcd3({ hosts: `http://${etcd.clientAddress}` }));
    await expect(anonymous.getAll().prefix("/scalemesh/").strings()).rejects.toThrow(
      /user name is empty|permission denied|authentication/i,
    );

    // One with a wrong password is refused, and says so without either password.
    const wrong = await start(
      "coordinator",
      coordinatorEnv(freshLedgerPath(), {
        SCALEMESH_COORDINATOR_REGISTER: etcd.uri("/scalemesh/coordinator", 5),
        ETCDCTL_USER: "root:not-the-etcd-pw-41",
      }),
    );
    await eventually("the refusal in the wrong one's log", async () =>
      everyLine([wrong]).some(
        (line) => /etcd/i.test(line) && /fail|cannot|refus|denied|invalid/i.test(line),
      )
        ? true
        : undefined,
    );
    const lines = everyLine([coordinator, wrong]);
    expect(lines.length).toBeGreaterThan(4);
    for (const line of lines) {
      expect(line).not.toContain(password);
      expect(line).not.toContain("not-the-etcd-pw-41");
    }
  }, 60_000);

  it("registers and discovers through a Consul agent that asks for an ACL token, and logs no token", async () => {
    const aclToken = "consul-acl-3b9e7c15-secret";
    consul = await startFakeConsul({ aclToken });
    const agent = consul;
    const env = { CONSUL_HTTP_TOKEN: aclToken };
    const coordinator = await start(
      "coordinator",
      coordinatorEnv(freshLedgerPath(), {
        ...env,
        SCALEMESH_COORDINATOR_REGISTER: `consul://${agent.address}/scalemesh-coordinator?check_interval=1s`,
      }),
    );
    const worker = await start(
      "worker-agent",
      env,
      workerArgs(`consul://${agent.address}/scalemesh-coordinator`, "consul-acl-worker"),
    );
    const admin = client(createRpcClient(Admin, `127.0.0.1:${coordinator.grpcPort}`));
    expect(await aliveWorkers(admin)).toEqual(["consul-acl-worker"]);
    expect(agent.services().map((svc) => svc.name)).toContain("scalemesh-coordinator");

    // Without the token the agent refuses it: the coordinator says so, and still runs.
    const refused = await start(
      "coordinator",
      coordinatorEnv(freshLedgerPath(), {
        CONSUL_HTTP_TOKEN: "consul-acl-wrong-77",
        SCALEMESH_COORDINATOR_REGISTER: `consul://${agent.address}/scalemesh-other?check_interval=1s`,
      }),
    );
    await eventually("the refusal in its log", async () =>
      everyLine([refused]).some(
        (line) => /consul/i.test(line) && /403|denied|refus|cannot|fail/i.test(line),
      )
        ? true
        : undefined,
    );
    expect(agent.services().map((svc) => svc.name)).not.toContain("scalemesh-other");
    for (const line of everyLine([coordinator, worker, refused])) {
      expect(line).not.toContain(aclToken);
      expect(line).not.toContain("consul-acl-wrong-77");
    }
  }, 60_000);
});
