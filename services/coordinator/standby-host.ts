// What a coordinator replica serves while another one leads: the same ports,
// with every method of its services answering UNAVAILABLE ("standby; the
// leader is <address>"), gRPC health NOT_SERVING and /readyz 503 with the
// same reason, so probes, load balancers and people all see why. It does not
// forward: a standby holds no ledger and no sessions, and a client that
// follows discovery reaches the leader directly; a forwarding hop would only
// hide which replica answered. Once this replica leads, main.ts stops this
// host and starts the real one on the same ports.
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  register,
  startServiceHost,
  unavailable,
  type ServiceHost,
  type ServiceHostOptions,
} from "../../libs/rpc/index.js";

export interface StandbyHostOptions extends Omit<
  ServiceHostOptions,
  "services" | "connectServices" | "routes" | "notReadyReason"
> {
  /** Every service the leader serves on these ports. */
  readonly services: readonly DescService[];
  /** Why this replica does not serve, e.g. "standby; the leader is 10.0.0.5:7070". */
  readonly reason: () => string;
}

export async function startStandbyHost(options: StandbyHostOptions): Promise<ServiceHost> {
  const { services, reason, ...hostOptions } = options;
  const refusing = services.map((service) => register(service, refusingImpl(service, reason)));
  const host = await startServiceHost({
    ...hostOptions,
    services: refusing,
    connectServices: refusing,
    notReadyReason: reason,
  });
  // startServiceHost says SERVING as it returns; this runs in the same turn, before any call is read.
  host.grpc.setServing(false);
  return host;
}

/** An implementation of every method of `service` that refuses with UNAVAILABLE and the reason. */
export function refusingImpl(
  service: DescService,
  reason: () => string,
): Partial<ServiceImpl<DescService>> {
  return Object.fromEntries(
    service.methods.map((method) => [method.localName, refuse(method, reason)]),
  ) as Partial<ServiceImpl<DescService>>;
}

function refuse(method: DescMethod, reason: () => string): unknown {
  switch (method.methodKind) {
    case "unary":
    case "client_streaming":
      return () => Promise.reject(unavailable(reason()));
    case "server_streaming":
    case "bidi_streaming":
      // A stream that ends with the status before any message.
      return async function* () {
        throw unavailable(reason());
      };
    default: {
      const never: never = method.methodKind;
      return never;
    }
  }
}
