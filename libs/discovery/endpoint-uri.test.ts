import { describe, expect, it } from "vitest";
import { parseEndpointUri } from "./endpoint-uri.js";

describe("parseEndpointUri", () => {
  const accepted: [string, object][] = [
    [
      "static://10.0.0.1:7070, h2:7071",
      { scheme: "static", endpoints: ["10.0.0.1:7070", "h2:7071"] },
    ],
    ["static://[::1]:7070", { scheme: "static", endpoints: ["[::1]:7070"] }],
    [
      "dns+srv://_coordinator._tcp.example.internal",
      { scheme: "dns+srv", name: "_coordinator._tcp.example.internal", intervalSec: 30 },
    ],
    [
      "dns+srv://127.0.0.1:5353/_coordinator._tcp.mesh.test.?interval_sec=2",
      {
        scheme: "dns+srv",
        name: "_coordinator._tcp.mesh.test",
        server: "127.0.0.1:5353",
        intervalSec: 2,
      },
    ],
    [
      "consul://127.0.0.1:8500/scalemesh-coordinator",
      {
        scheme: "consul",
        agent: "127.0.0.1:8500",
        service: "scalemesh-coordinator",
        deregisterAfter: "1m",
        checkInterval: "5s",
      },
    ],
    [
      "consul://consul:8500/scalemesh-balancer?tag=blue&dc=eu1&deregister_after=90s&check_interval=2s",
      {
        scheme: "consul",
        agent: "consul:8500",
        service: "scalemesh-balancer",
        tag: "blue",
        datacenter: "eu1",
        deregisterAfter: "90s",
        checkInterval: "2s",
      },
    ],
    [
      "etcd://127.0.0.1:2379/scalemesh/coordinator",
      { scheme: "etcd", hosts: ["127.0.0.1:2379"], prefix: "/scalemesh/coordinator/", ttlSec: 10 },
    ],
    [
      "etcd://e1:2379,e2:2379/scalemesh/balancer/?ttl_sec=3",
      { scheme: "etcd", hosts: ["e1:2379", "e2:2379"], prefix: "/scalemesh/balancer/", ttlSec: 3 },
    ],
    [
      "k8s://default/scalemesh-coordinator:grpc",
      { scheme: "k8s", namespace: "default", service: "scalemesh-coordinator", port: "grpc" },
    ],
    [
      "k8s://mesh/scalemesh-balancer:7080",
      { scheme: "k8s", namespace: "mesh", service: "scalemesh-balancer", port: 7080 },
    ],
  ];
  for (const [uri, target] of accepted) {
    it(`reads ${uri}`, () => {
      expect(parseEndpointUri(uri)).toEqual({ ok: true, ...target });
    });
  }

  const refusals: [string, RegExp][] = [
    ["127.0.0.1:7070", /not a discovery URI/],
    ["static://", /names no endpoint/],
    ["static://host", /needs host:port/],
    ["static://host:99999", /needs host:port/],
    ["static://h:1?x=1", /static:\/\/ takes no query/],
    ["ftp://x:1", /unknown discovery scheme "ftp"/],
    ["dns+srv://127.0.0.1/_c._tcp.x", /DNS server "127.0.0.1" .* needs host:port/],
    ["dns+srv://not a name", /not an SRV name/],
    ["dns+srv://_c._tcp.x?interval_sec=0", /interval_sec=0 .* positive number/],
    ["dns+srv://_c._tcp.x?ttl=5", /unknown query key "ttl" .* allowed: interval_sec/],
    ["consul://127.0.0.1:8500", /needs a Consul service name/],
    ["consul://agent/svc", /Consul agent "agent" .* needs host:port/],
    ["consul://a:8500/svc?deregister_after=soon", /"soon" .* not a Consul duration/],
    ["etcd://127.0.0.1:2379", /needs a key prefix/],
    ["etcd://127.0.0.1:2379/x?ttl_sec=1", /at least 2/],
    ["k8s://default/svc", /needs k8s:\/\/namespace\/service:port/],
    ["k8s://default/svc:0", /port 0 .* not 1..65535/],
  ];
  for (const [uri, message] of refusals) {
    it(`refuses ${uri} with a clear message`, () => {
      const parsed = parseEndpointUri(uri);
      expect(parsed.ok).toBe(false);
      if (!parsed.ok) expect(parsed.error).toMatch(message);
    });
  }
});
