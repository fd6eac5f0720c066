// Where the worker finds the coordinator: a discovery URI (static://h1:7070,h2:7070)
// or a list of host:port. Other schemes are refused by libs/discovery until
// their resolvers exist.
import { parseEndpointUri } from "../discovery/index.js";

export type CoordinatorEndpoints = { readonly ok: true; readonly endpoints: readonly string[] } | { readonly ok: false; readonly error: string };

export function resolveCoordinatorEndpoints(coordinator: string | readonly string[]): CoordinatorEndpoints {
  if (typeof coordinator !== "string") {
    return coordinator.length > 0 ? { ok: true, endpoints: [...coordinator] } : { ok: false, error: "no coordinator endpoint given" };
  }
  const parsed = parseEndpointUri(coordinator);
  return parsed.ok ? { ok: true, endpoints: parsed.endpoints } : { ok: false, error: parsed.error };
}
