// TLS for every port of a process, from the `tls` config section: one
// identity per process (its certificate and key), one CA that signed every
// peer. gRPC servers and clients take it through grpc-js's file-watching
// certificate provider, the HTTP port through Node's https server with its
// secure context renewed from the files, so certificates that change on disk
// (cert-manager) are picked up without a restart. Without certificate files
// everything is plaintext, which a service accepts only on loopback unless
// told `tls.allow_plaintext`.
import { readFileSync, statSync } from "node:fs";
import { isIP } from "node:net";
import * as grpc from "@grpc/grpc-js";

export interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
  readonly caFile: string;
  /** Servers: refuse a peer without a certificate the CA signed. */
  readonly requireClientCert: boolean;
  /** Clients: the name to check in the server's certificate, instead of the target's host. */
  readonly serverName: string;
  readonly reloadIntervalMs: number;
}

let configured: TlsFiles | undefined;
let provider: grpc.experimental.FileWatcherCertificateProvider | undefined;

/** Sets this process's TLS (undefined: plaintext). Services call it once, from their config. */
export function useTls(tls: TlsFiles | undefined): void {
  configured = tls;
  if (tls) quietIpServerNameWarning();
  provider = tls
    ? new grpc.experimental.FileWatcherCertificateProvider({
        certificateFile: tls.certFile,
        privateKeyFile: tls.keyFile,
        caCertificateFile: tls.caFile,
        refreshIntervalMs: tls.reloadIntervalMs,
      })
    : undefined;
}

/**
 * grpc-js sends the dialled host as the TLS server name even when it is an IP
 * address (127.0.0.1), which Node answers with deprecation warning DEP0123 on
 * stderr in every process. The certificate is still checked against that
 * address; only that one warning is dropped, every other is printed as Node
 * would.
 */
function quietIpServerNameWarning(): void {
  if (process.listenerCount("warning") !== 1) return;
  process.removeAllListeners("warning");
  process.on("warning", (warning: Error & { code?: string }) => {
    if (warning.code === "DEP0123") return;
    process.stderr.write(`(node:${process.pid}) ${warning.name}: ${warning.message}\n`);
  });
}

export function currentTls(): TlsFiles | undefined {
  return configured;
}

export function serverCredentials(): grpc.ServerCredentials {
  if (!configured || !provider) return grpc.ServerCredentials.createInsecure();
  // One provider holds the CA and the identity, so it serves as both.
  return grpc.experimental.createCertificateProviderServerCredentials(
    provider,
    provider,
    configured.requireClientCert,
  );
}

export function channelCredentials(): {
  credentials: grpc.ChannelCredentials;
  options: grpc.ChannelOptions;
} {
  if (!configured || !provider)
    return { credentials: grpc.credentials.createInsecure(), options: {} };
  return {
    credentials: grpc.experimental.createCertificateProviderChannelCredentials(provider, provider),
    options: configured.serverName
      ? { "grpc.ssl_target_name_override": configured.serverName }
      : {},
  };
}

/** Key, certificate and CA as Node's TLS wants them, read now. */
export function secureContextOptions(tls: TlsFiles): { key: Buffer; cert: Buffer; ca: Buffer } {
  return {
    key: readFileSync(tls.keyFile),
    cert: readFileSync(tls.certFile),
    ca: readFileSync(tls.caFile),
  };
}

/** The newest modification time of the three files, to notice a rotation. */
export function tlsFilesVersion(tls: TlsFiles): number {
  return Math.max(...[tls.certFile, tls.keyFile, tls.caFile].map((file) => statSync(file).mtimeMs));
}

export function isLoopbackHost(host: string): boolean {
  if (host === "localhost") return true;
  if (isIP(host) === 4) return host.startsWith("127.");
  return host === "::1";
}

/**
 * Why a service may not listen on `host` as configured, or undefined: off
 * loopback it needs TLS, or `tls.allow_plaintext` said explicitly.
 */
export function plaintextRefusal(
  key: string,
  host: string,
  tls: TlsFiles | undefined,
  allowPlaintext: boolean,
): string | undefined {
  if (tls || allowPlaintext || isLoopbackHost(host)) return undefined;
  return (
    `${key} is ${host}, which is not a loopback address, and TLS is off: anyone on that network could ` +
    `register a worker or read tasks. Make certificates with "scalemesh certs init DIR" and set ` +
    `tls.cert_file, tls.key_file and tls.ca_file (see the README's security section), ` +
    `or set tls.allow_plaintext=true if plaintext on that network is really wanted`
  );
}

/**
 * A service's main: uses `tls` for every port of the process, or exits with
 * code 2 saying what to fix (an incomplete setting, or plaintext asked to
 * listen off loopback).
 */
export function secureTransportOrExit(
  setting:
    | { ok: true; setting: { files: TlsFiles | undefined; allowPlaintext: boolean } }
    | { ok: false; error: string },
  listening: readonly { key: string; host: string }[],
): void {
  const refusal = setting.ok
    ? listening
        .map(({ key, host }) =>
          plaintextRefusal(key, host, setting.setting.files, setting.setting.allowPlaintext),
        )
        .find((r) => r !== undefined)
    : setting.error;
  if (refusal) {
    process.stderr.write(`${refusal}\n`);
    process.exit(2);
  }
  if (setting.ok) useTls(setting.setting.files);
}
