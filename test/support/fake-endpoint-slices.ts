// EndpointSlices as the k8s:// tests write them, for the fake API server and
// for endpointsFromSlices: pods in namespace "mesh", ready unless a test says
// otherwise, behind a Service "coordinator" with a grpc (7070) and a metrics
// (9090) port.
import type { FakeEndpoint, FakeEndpointPort, FakeEndpointSlice } from "./fake-kube-api.js";

const GRPC_PORT: FakeEndpointPort = { name: "grpc", port: 7070, protocol: "TCP" };
export const METRICS_PORT: FakeEndpointPort = { name: "metrics", port: 9090, protocol: "TCP" };

export function pod(ip: string, name: string, extra: Partial<FakeEndpoint> = {}): FakeEndpoint {
  return {
    addresses: [ip],
    conditions: { ready: true, serving: true, terminating: false },
    targetRef: { kind: "Pod", namespace: "mesh", name, uid: `uid-${name}` },
    ...extra,
  };
}

export function slice(
  name: string,
  endpoints: FakeEndpoint[],
  options: {
    service?: string;
    ports?: FakeEndpointPort[] | null;
    addressType?: FakeEndpointSlice["addressType"];
  } = {},
): FakeEndpointSlice {
  return {
    metadata: {
      name,
      labels: {
        "kubernetes.io/service-name": options.service ?? "coordinator",
        "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
      },
    },
    addressType: options.addressType ?? "IPv4",
    endpoints,
    ports: options.ports === undefined ? [GRPC_PORT, METRICS_PORT] : options.ports,
  };
}
