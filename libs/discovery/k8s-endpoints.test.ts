import { describe, expect, it } from "vitest";
import { METRICS_PORT, pod, slice } from "../../test/support/fake-endpoint-slices.js";
import type { FakeEndpointSlice } from "../../test/support/fake-kube-api.js";
import type { DiscoveredEndpoint } from "./endpoint-watch.js";
import { endpointsFromSlices, type EndpointSliceView } from "./k8s-endpoints.js";

describe("endpointsFromSlices", () => {
  const cases: {
    name: string;
    slices: FakeEndpointSlice[];
    port: number | string;
    expected: DiscoveredEndpoint[];
  }[] = [
    {
      name: "takes a named port's number and the pod name as id",
      slices: [slice("a", [pod("10.0.0.1", "coordinator-0", { zone: "eu-1a" })])],
      port: "grpc",
      expected: [
        { address: "10.0.0.1:7070", priority: 0, weight: 1, id: "coordinator-0", zone: "eu-1a" },
      ],
    },
    {
      name: "matches a numbered port against the endpoint's port",
      slices: [slice("a", [pod("10.0.0.1", "coordinator-0")])],
      port: 9090,
      expected: [{ address: "10.0.0.1:9090", priority: 0, weight: 1, id: "coordinator-0" }],
    },
    {
      name: "skips slices without the port",
      slices: [
        slice("a", [pod("10.0.0.1", "p0")]),
        slice("b", [pod("10.0.0.2", "p1")], { ports: [METRICS_PORT] }),
      ],
      port: "grpc",
      expected: [{ address: "10.0.0.1:7070", priority: 0, weight: 1, id: "p0" }],
    },
    {
      name: "reads ready nil as ready, and drops not-ready and terminating endpoints",
      slices: [
        slice("a", [
          pod("10.0.0.1", "nil", { conditions: {} }),
          pod("10.0.0.2", "not-ready", { conditions: { ready: false } }),
          pod("10.0.0.3", "terminating", { conditions: { ready: true, terminating: true } }),
          pod("10.0.0.4", "no-conditions", { conditions: undefined }),
        ]),
      ],
      port: 7070,
      expected: [
        { address: "10.0.0.1:7070", priority: 0, weight: 1, id: "nil" },
        { address: "10.0.0.4:7070", priority: 0, weight: 1, id: "no-conditions" },
      ],
    },
    {
      name: "brackets IPv6 addresses",
      slices: [slice("a", [pod("fd00::1", "p0")], { addressType: "IPv6" })],
      port: "grpc",
      expected: [{ address: "[fd00::1]:7070", priority: 0, weight: 1, id: "p0" }],
    },
    {
      name: "counts a dual-stack pod once, by its IPv4 address",
      slices: [
        slice("v6", [pod("fd00::1", "p0"), pod("fd00::2", "p1")], { addressType: "IPv6" }),
        slice("v4", [pod("10.0.0.1", "p0")]),
      ],
      port: "grpc",
      expected: [
        { address: "10.0.0.1:7070", priority: 0, weight: 1, id: "p0" },
        { address: "[fd00::2]:7070", priority: 0, weight: 1, id: "p1" },
      ],
    },
    {
      name: "ignores FQDN slices, whose semantics the API leaves undefined",
      slices: [slice("a", [{ addresses: ["coordinator.example.com"] }], { addressType: "FQDN" })],
      port: "grpc",
      expected: [],
    },
    {
      name: "uses only an endpoint's first address and the address as id without a targetRef",
      slices: [slice("a", [{ addresses: ["10.0.0.1", "10.0.0.9"] }])],
      port: "grpc",
      expected: [{ address: "10.0.0.1:7070", priority: 0, weight: 1, id: "10.0.0.1:7070" }],
    },
    {
      name: "lists an endpoint found in two slices once",
      slices: [slice("a", [pod("10.0.0.1", "p0")]), slice("b", [pod("10.0.0.1", "p0")])],
      port: "grpc",
      expected: [{ address: "10.0.0.1:7070", priority: 0, weight: 1, id: "p0" }],
    },
    {
      name: "reads a nil port as all ports for a number, but cannot name one",
      slices: [slice("a", [pod("10.0.0.1", "p0")], { ports: [{ name: "grpc", port: null }] })],
      port: 7443,
      expected: [{ address: "10.0.0.1:7443", priority: 0, weight: 1, id: "p0" }],
    },
    {
      name: "has no port for a name whose port is nil",
      slices: [slice("a", [pod("10.0.0.1", "p0")], { ports: [{ name: "grpc", port: null }] })],
      port: "grpc",
      expected: [],
    },
    {
      name: "finds nothing when ports is empty (no ports defined)",
      slices: [slice("a", [pod("10.0.0.1", "p0")], { ports: [] })],
      port: 7070,
      expected: [],
    },
    {
      name: "ignores UDP ports of the same number",
      slices: [
        slice("a", [pod("10.0.0.1", "p0")], {
          ports: [{ name: "dns", port: 53, protocol: "UDP" }],
        }),
      ],
      port: 53,
      expected: [],
    },
    {
      name: "sorts by address",
      slices: [slice("a", [pod("10.0.0.3", "p3"), pod("10.0.0.1", "p1")])],
      port: "grpc",
      expected: [
        { address: "10.0.0.1:7070", priority: 0, weight: 1, id: "p1" },
        { address: "10.0.0.3:7070", priority: 0, weight: 1, id: "p3" },
      ],
    },
  ];
  for (const { name, slices, port, expected } of cases) {
    it(name, () => {
      expect(endpointsFromSlices(slices as EndpointSliceView[], port)).toEqual(expected);
    });
  }
});
