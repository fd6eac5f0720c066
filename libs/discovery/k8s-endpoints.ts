// The endpoints a k8s:// target names, from the EndpointSlices of its Service:
// which slices and endpoints count (ready, not terminating, IPv4 or IPv6, the
// port asked for) and how a dual-stack pod is counted once. Pure, so k8s.ts
// can recompute the set from whatever its list and watch hold.
import { isIPv6 } from "node:net";
import type { DiscoveredEndpoint } from "./endpoint-watch.js";

/** The parts of an EndpointSlice read here; both the list's V1EndpointSlice and a watch event's raw JSON fit. */
export interface EndpointSliceView {
  readonly metadata?: { readonly name?: string; readonly resourceVersion?: string };
  readonly addressType: string;
  readonly endpoints: readonly EndpointView[];
  readonly ports?: readonly EndpointPortView[] | null;
}

interface EndpointView {
  readonly addresses: readonly string[];
  readonly conditions?: { readonly ready?: boolean | null; readonly terminating?: boolean | null };
  readonly targetRef?: {
    readonly kind?: string;
    readonly namespace?: string;
    readonly name?: string;
    readonly uid?: string;
  };
  readonly zone?: string;
}

interface EndpointPortView {
  readonly name?: string;
  readonly port?: number | null;
  readonly protocol?: string;
}

/**
 * The endpoints a client may dial on `port` (a number is the endpoint's own
 * port, i.e. the Service's targetPort; a name is the Service port's name),
 * sorted by address. Region stays unset: EndpointSlices carry only the zone.
 */
export function endpointsFromSlices(
  slices: Iterable<EndpointSliceView>,
  port: number | string,
): DiscoveredEndpoint[] {
  const byAddress = new Map<string, DiscoveredEndpoint>();
  const seenPods = new Set<string>();
  // IPv4 slices first: a dual-stack Service lists each pod in an IPv4 and an
  // IPv6 slice, and a pod counted twice would get twice the share of load.
  for (const slice of [...slices].sort(byFamilyThenName)) {
    // FQDN slices are deprecated and "no semantics are defined" for them;
    // kube-proxy skips them too.
    if (slice.addressType !== "IPv4" && slice.addressType !== "IPv6") continue;
    const portNumber = portIn(slice.ports ?? [], port);
    if (portNumber === undefined) continue;
    for (const endpoint of slice.endpoints ?? []) {
      // ready nil means ready (API doc); a terminating endpoint may still be
      // ready when the Service publishes not-ready addresses, but is leaving.
      if (endpoint.conditions?.ready === false || endpoint.conditions?.terminating === true)
        continue;
      // "No semantics are defined for additional addresses beyond the first,
      // and kube-proxy does not look at them."
      const ip = endpoint.addresses?.[0];
      if (!ip) continue;
      const pod = podKey(endpoint.targetRef);
      if (pod !== undefined && seenPods.has(pod)) continue;
      const address = isIPv6(ip) ? `[${ip}]:${portNumber}` : `${ip}:${portNumber}`;
      // The same endpoint may sit in two slices while the controller moves it.
      if (byAddress.has(address)) continue;
      if (pod !== undefined) seenPods.add(pod);
      byAddress.set(address, {
        address,
        priority: 0,
        weight: 1,
        id: endpoint.targetRef?.name ?? address,
        ...(endpoint.zone ? { zone: endpoint.zone } : {}),
      });
    }
  }
  return [...byAddress.values()].sort((a, b) =>
    a.address < b.address ? -1 : a.address > b.address ? 1 : 0,
  );
}

function portIn(ports: readonly EndpointPortView[], wanted: number | string): number | undefined {
  for (const candidate of ports) {
    if ((candidate.protocol ?? "TCP") !== "TCP") continue; // gRPC needs TCP; a DNS-style Service lists UDP too
    const isAllPorts = candidate.port === undefined || candidate.port === null; // "a nil port value indicates all ports"
    if (typeof wanted === "number") {
      if (isAllPorts || candidate.port === wanted) return wanted;
    } else if ((candidate.name ?? "") === wanted && !isAllPorts) {
      return candidate.port ?? undefined;
    }
  }
  return undefined;
}

function podKey(targetRef: EndpointView["targetRef"]): string | undefined {
  if (targetRef?.kind !== "Pod") return undefined;
  return targetRef.uid ?? `${targetRef.namespace ?? ""}/${targetRef.name ?? ""}`;
}

function byFamilyThenName(a: EndpointSliceView, b: EndpointSliceView): number {
  if (a.addressType !== b.addressType)
    return a.addressType === "IPv4" ? -1 : b.addressType === "IPv4" ? 1 : 0;
  const nameA = a.metadata?.name ?? "";
  const nameB = b.metadata?.name ?? "";
  return nameA < nameB ? -1 : nameA > nameB ? 1 : 0;
}
