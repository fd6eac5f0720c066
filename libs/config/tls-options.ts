// The tls section as libs/rpc's TlsFiles: "{service}" in a path becomes the
// service's own name (one config for a whole mesh, a certificate each), and
// the three files come together or not at all.
import { accessSync, constants } from "node:fs";
import type { TlsFiles } from "../rpc/transport-security.js";
import type { Config } from "./schema.js";

export interface TlsSetting {
  /** Undefined: plaintext. */
  readonly files: TlsFiles | undefined;
  readonly allowPlaintext: boolean;
}

/** The setting, or an error naming the key to fix. */
export function tlsSettingOf(
  tls: Config["tls"],
  service: string,
): { ok: true; setting: TlsSetting } | { ok: false; error: string } {
  const path = (value: string): string => value.replaceAll("{service}", service);
  const named = [
    ["tls.cert_file", path(tls.cert_file)],
    ["tls.key_file", path(tls.key_file)],
    ["tls.ca_file", path(tls.ca_file)],
  ] as const;
  const given = named.filter(([, value]) => value !== "");
  if (given.length === 0)
    return { ok: true, setting: { files: undefined, allowPlaintext: tls.allow_plaintext } };
  const missing = named.filter(([, value]) => value === "").map(([key]) => key);
  if (missing.length > 0)
    return {
      ok: false,
      error: `TLS needs tls.cert_file, tls.key_file and tls.ca_file together; ${missing.join(" and ")} ${missing.length === 1 ? "is" : "are"} not set`,
    };
  for (const [key, file] of named) {
    try {
      accessSync(file, constants.R_OK);
    } catch {
      return {
        ok: false,
        error: `${key}: cannot read ${file}; "scalemesh certs init DIR" makes a development set`,
      };
    }
  }
  const [cert, key, ca] = named.map(([, value]) => value) as [string, string, string];
  return {
    ok: true,
    setting: {
      files: {
        certFile: cert,
        keyFile: key,
        caFile: ca,
        requireClientCert: tls.require_client_cert,
        serverName: tls.server_name,
        reloadIntervalMs: tls.reload_sec * 1000,
      },
      allowPlaintext: tls.allow_plaintext,
    },
  };
}
