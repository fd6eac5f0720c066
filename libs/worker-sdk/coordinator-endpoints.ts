// Where the worker finds the coordinator: a discovery URI (static://,
// dns+srv://, consul://, etcd://, k8s://) or a list of host:port, checked
// here so a mistake stops the worker at start-up with the reason.
import { isHostPort, parseEndpointUri } from "../discovery/index.js";

export type CoordinatorTarget =
  { readonly ok: true; readonly target: string } | { readonly ok: false; readonly error: string };

export function resolveCoordinatorTarget(
  coordinator: string | readonly string[],
): CoordinatorTarget {
  if (typeof coordinator !== "string") {
    if (coordinator.length === 0) return { ok: false, error: "no coordinator endpoint given" };
    const bad = coordinator.find((endpoint) => !isHostPort(endpoint));
    if (bad !== undefined)
      return { ok: false, error: `coordinator endpoint "${bad}" needs host:port` };
    return { ok: true, target: `static://${coordinator.join(",")}` };
  }
  const parsed = parseEndpointUri(coordinator);
  return parsed.ok ? { ok: true, target: coordinator.trim() } : { ok: false, error: parsed.error };
}
