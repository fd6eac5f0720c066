// The value of one etcd registration key, written by createEtcdRegistrar and
// read by watchEtcd. JSON carries the address with the instance's place:
//
//   {"address":"10.0.0.5:7070","region":"eu-west","zone":"eu-west-1a","meta":{"kind":"coordinator"}}
//
// A plain "host:port" is read too, so an operator can list an endpoint by
// hand with `etcdctl put /scalemesh/coordinator/c1 10.0.0.5:7070`.
// Decoding never throws: a value nobody can connect to comes back as an error.
import { isHostPort } from "./endpoint-uri.js";
import type { ServiceInstance } from "./registrar.js";

export interface EtcdRecord {
  /** host:port to connect to. */
  readonly address: string;
  readonly region?: string;
  readonly zone?: string;
  readonly meta?: Readonly<Record<string, string>>;
}

export type DecodedEtcdRecord =
  ({ readonly ok: true } & EtcdRecord) | { readonly ok: false; readonly error: string };

export function encodeEtcdRecord(instance: ServiceInstance): string {
  const record: EtcdRecord = {
    address: joinHostPort(instance.host, instance.port),
    region: instance.region,
    zone: instance.zone,
    meta: instance.meta,
  };
  return JSON.stringify(record);
}

export function decodeEtcdRecord(value: string): DecodedEtcdRecord {
  const text = value.trim();
  if (isHostPort(text)) return { ok: true, address: text };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return fail(value);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return fail(value);
  const fields = parsed as Record<string, unknown>;
  const address = fields.address;
  if (typeof address !== "string" || !isHostPort(address)) return fail(value);
  return {
    ok: true,
    address,
    ...optionalString(fields, "region"),
    ...optionalString(fields, "zone"),
    ...(isStringRecord(fields.meta) ? { meta: fields.meta } : {}),
  };
}

/** host:port, with an IPv6 host in brackets so the port stays readable. */
export function joinHostPort(host: string, port: number): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]:${port}` : `${host}:${port}`;
}

function optionalString(
  fields: Record<string, unknown>,
  key: "region" | "zone",
): { region?: string; zone?: string } {
  const value = fields[key];
  return typeof value === "string" && value.length > 0 ? { [key]: value } : {};
}

function isStringRecord(value: unknown): value is Record<string, string> {
  return (
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    Object.values(value).every((v) => typeof v === "string")
  );
}

function fail(value: string): { ok: false; error: string } {
  const shown = value.length > 80 ? `${value.slice(0, 80)}…` : value;
  return {
    ok: false,
    error: `value ${JSON.stringify(shown)} is neither host:port nor JSON with an "address" of host:port`,
  };
}
