// The one URI syntax that says where to find a service (DESIGN.md):
// static://h1:7070,h2:7070, dns+srv://..., consul://..., etcd://..., k8s://...
// Only static is resolved so far; the others are recognised and refused with
// a clear message until their resolvers exist.

export type DiscoveryScheme = "static" | "dns+srv" | "consul" | "etcd" | "k8s";

export type ParsedUri =
  | { readonly ok: true; readonly scheme: "static"; readonly endpoints: readonly string[] }
  | { readonly ok: false; readonly error: string };

const KNOWN_SCHEMES: readonly DiscoveryScheme[] = ["static", "dns+srv", "consul", "etcd", "k8s"];

export function parseEndpointUri(uri: string): ParsedUri {
  const match = /^([a-z0-9+]+):\/\/(.*)$/.exec(uri.trim());
  if (!match) return { ok: false, error: `"${uri}" is not a discovery URI; expected e.g. static://127.0.0.1:7070` };
  const scheme = match[1] as string;
  const rest = match[2] as string;
  if (scheme !== "static") {
    return KNOWN_SCHEMES.includes(scheme as DiscoveryScheme)
      ? { ok: false, error: `discovery scheme ${scheme}:// is not supported yet; use static://host:port[,host:port]` }
      : { ok: false, error: `unknown discovery scheme "${scheme}" in "${uri}"; known: ${KNOWN_SCHEMES.join(", ")}` };
  }
  const endpoints = rest.split(",").map((e) => e.trim()).filter((e) => e.length > 0);
  if (endpoints.length === 0) return { ok: false, error: `"${uri}" names no endpoint` };
  for (const endpoint of endpoints) {
    const port = Number(/:(\d+)$/.exec(endpoint)?.[1]);
    if (!Number.isInteger(port) || port <= 0 || port > 65535) {
      return { ok: false, error: `endpoint "${endpoint}" in "${uri}" needs host:port with a port 1..65535` };
    }
  }
  return { ok: true, scheme: "static", endpoints };
}
