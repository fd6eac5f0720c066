// Channels that follow a discovery URI, against real gRPC servers: the set of
// endpoints is driven by hand through a resolver of the test's own, so each
// case says exactly what the registry answered.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pino } from "pino";
import { Balancer, TaskState } from "../contracts/index.js";
import type { DiscoveredEndpoint, EndpointResolver, ResolverChange } from "../discovery/index.js";
import {
  Code,
  createRpcClient,
  register,
  startServiceHost,
  toConnectError,
  type ServiceHost,
} from "./index.js";
import { followDiscoveryUri } from "./discovery-channel.js";

const logger = pino({ level: "silent" });

/** A registry whose answers the test writes. */
function handDrivenResolver(uri: string) {
  let endpoints: readonly DiscoveredEndpoint[] = [];
  let error: string | undefined;
  let hasAnswered = false;
  const listeners = new Set<(change: ResolverChange) => void>();
  const resolver: EndpointResolver = {
    uri,
    current: () => endpoints,
    get hasAnswered() {
      return hasAnswered;
    },
    lastError: () => error,
    firstAnswer: async () => endpoints,
    subscribe: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    refresh: () => {},
    close: async () => {},
  };
  return {
    resolver,
    publish(addresses: readonly string[], priorities: readonly number[] = []) {
      hasAnswered = true;
      error = undefined;
      endpoints = addresses.map((address, i) => ({
        address,
        priority: priorities[i] ?? 0,
        weight: 1,
      }));
      for (const listener of listeners) listener({ kind: "endpoints", endpoints });
    },
    fail(message: string) {
      error = message;
      for (const listener of listeners) listener({ kind: "failure", error: message });
    },
  };
}

/** A Balancer whose Assign answers with its own name, so a test sees which server took a call. */
async function namedServer(name: string): Promise<ServiceHost> {
  return startServiceHost({
    host: "127.0.0.1",
    grpcPort: 0,
    httpPort: 0,
    logger,
    services: [
      register(Balancer, {
        assign: () => ({ taskId: name, workerId: name, state: TaskState.ASSIGNED, attempt: 1 }),
      }),
    ],
    maxMessageBytes: 1 << 20,
    keepaliveTimeMs: 10_000,
    keepaliveTimeoutMs: 5_000,
    shutdownGraceMs: 0,
  });
}

const servers: Record<string, ServiceHost> = {};
const addressOf = (name: string) => `127.0.0.1:${servers[name]?.grpc.port}`;
let uriCount = 0;
const nextUri = () => `etcd://127.0.0.1:1/test/channel-${(uriCount += 1)}`;

beforeAll(async () => {
  for (const name of ["a", "b", "c"]) servers[name] = await namedServer(name);
});
afterAll(async () => {
  for (const server of Object.values(servers)) await server.stop();
});

/** Calls until `until` holds for the set of servers seen in the last `window` answers (bounded). */
async function callUntil(
  call: () => Promise<string>,
  until: (seen: Set<string>) => boolean,
  window = 12,
): Promise<Set<string>> {
  const recent: string[] = [];
  for (let i = 0; i < 400; i += 1) {
    recent.push(await call());
    if (recent.length > window) recent.shift();
    if (recent.length === window && until(new Set(recent))) return new Set(recent);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`never reached the expected set; last answers: ${recent.join(",")}`);
}

describe("a channel following a discovery URI", () => {
  it("pick_first: uses the listed endpoint and moves when the registry lists another", async () => {
    const uri = nextUri();
    const registry = handDrivenResolver(uri);
    const followed = followDiscoveryUri(uri, { resolver: registry.resolver });
    const client = createRpcClient(Balancer, uri, { defaultDeadlineMs: 2_000 });
    const call = async () => (await client.assign({})).workerId;
    try {
      registry.publish([addressOf("a")]);
      expect(await call()).toBe("a");
      registry.publish([addressOf("b")]);
      const seen = await callUntil(call, (s) => s.size === 1 && s.has("b"));
      expect([...seen]).toEqual(["b"]);
    } finally {
      client.close();
      followed.release();
    }
  });

  it("round_robin: spreads over every endpoint of the best priority and follows one that appears", async () => {
    const uri = nextUri();
    const registry = handDrivenResolver(uri);
    const followed = followDiscoveryUri(uri, { resolver: registry.resolver });
    const client = createRpcClient(Balancer, uri, {
      defaultDeadlineMs: 2_000,
      balancing: "round_robin",
    });
    const call = async () => (await client.assign({})).workerId;
    try {
      // c is a backup (priority 1): no traffic while a or b is listed.
      registry.publish([addressOf("a"), addressOf("b"), addressOf("c")], [0, 0, 1]);
      const first = await callUntil(call, (s) => s.has("a") && s.has("b"));
      expect(first.has("c")).toBe(false);
      registry.publish([addressOf("a"), addressOf("b"), addressOf("c")]);
      await callUntil(call, (s) => s.has("a") && s.has("b") && s.has("c"));
    } finally {
      client.close();
      followed.release();
    }
  });

  it("fails with UNAVAILABLE naming the URI when the registry lists nothing", async () => {
    const uri = nextUri();
    const registry = handDrivenResolver(uri);
    const followed = followDiscoveryUri(uri, { resolver: registry.resolver });
    const client = createRpcClient(Balancer, uri, { defaultDeadlineMs: 2_000 });
    try {
      registry.publish([]);
      const error = toConnectError(await client.assign({}).catch((e: unknown) => e));
      expect(error.code).toBe(Code.Unavailable);
      expect(error.rawMessage).toContain(uri);
      expect(error.rawMessage).toMatch(/lists no endpoint/);
    } finally {
      client.close();
      followed.release();
    }
  });

  it("fails with UNAVAILABLE naming the URI and the registry's error when it cannot be asked", async () => {
    const uri = nextUri();
    const registry = handDrivenResolver(uri);
    const followed = followDiscoveryUri(uri, { resolver: registry.resolver });
    const client = createRpcClient(Balancer, uri, { defaultDeadlineMs: 2_000 });
    try {
      registry.fail("etcd at 127.0.0.1:1 unreachable: connect ECONNREFUSED");
      const error = toConnectError(await client.assign({}).catch((e: unknown) => e));
      expect(error.code).toBe(Code.Unavailable);
      expect(error.rawMessage).toContain(uri);
      expect(error.rawMessage).toContain("ECONNREFUSED");
    } finally {
      client.close();
      followed.release();
    }
  });

  it("fails with UNAVAILABLE naming the URI when no listed endpoint answers", async () => {
    const uri = nextUri();
    const registry = handDrivenResolver(uri);
    const followed = followDiscoveryUri(uri, { resolver: registry.resolver });
    const client = createRpcClient(Balancer, uri, { defaultDeadlineMs: 2_000 });
    try {
      registry.publish(["127.0.0.1:1"]);
      const error = toConnectError(await client.assign({}).catch((e: unknown) => e));
      expect(error.code).toBe(Code.Unavailable);
      expect(error.rawMessage).toContain(uri);
    } finally {
      client.close();
      followed.release();
    }
  });

  it("keeps the last endpoints in use while the registry cannot be asked", async () => {
    const uri = nextUri();
    const registry = handDrivenResolver(uri);
    const followed = followDiscoveryUri(uri, { resolver: registry.resolver });
    const client = createRpcClient(Balancer, uri, { defaultDeadlineMs: 2_000 });
    try {
      registry.publish([addressOf("c")]);
      expect((await client.assign({})).workerId).toBe("c");
      registry.fail("the registry timed out");
      expect((await client.assign({})).workerId).toBe("c");
    } finally {
      client.close();
      followed.release();
    }
  });

  it("a static URI of several endpoints fails over down the list", async () => {
    const client = createRpcClient(Balancer, `static://127.0.0.1:1,${addressOf("b")}`, {
      defaultDeadlineMs: 2_000,
    });
    try {
      expect((await client.assign({})).workerId).toBe("b");
    } finally {
      client.close();
    }
  });
});
