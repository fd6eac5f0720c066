// For tests of meshes with TLS: certificates made by `scalemesh certs init`,
// the env that turns them on for every service, a process's own identity for
// the test's clients, and buf curl (Go's TLS stack) presenting one.
import { execFile, spawnSync } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import type { TlsFiles } from "../../libs/rpc/index.js";
import { projectRoot } from "../../libs/telemetry/version.js";
import { serviceEntry } from "./service-process.js";

export const BUF = join(projectRoot(), "node_modules", ".bin", "buf");

export function certsInit(dir: string): void {
  const made = spawnSync(process.execPath, [serviceEntry("cli"), "certs", "init", dir], {
    encoding: "utf8",
  });
  if (made.status !== 0) throw new Error(`certs init failed: ${made.stderr}`);
}

/** Every service reads its own {service} files from `dir`. */
export const tlsEnv = (dir: string): Record<string, string> => ({
  SCALEMESH_TLS_CA_FILE: join(dir, "ca.pem"),
  SCALEMESH_TLS_CERT_FILE: join(dir, "{service}.pem"),
  SCALEMESH_TLS_KEY_FILE: join(dir, "{service}-key.pem"),
});

/** The identity `certs init` made for `name` (cli, balancer, worker-agent, ...), as a client uses it. */
export const identityTls = (dir: string, name = "cli"): TlsFiles => ({
  certFile: join(dir, `${name}.pem`),
  keyFile: join(dir, `${name}-key.pem`),
  caFile: join(dir, "ca.pem"),
  requireClientCert: true,
  serverName: "",
  reloadIntervalMs: 1_000,
});

/** buf curl's TLS flags for the CA of `dir` and the certificate of `name`. */
export const withCert = (dir: string, name = "cli"): string[] => [
  "--cacert",
  join(dir, "ca.pem"),
  "--cert",
  join(dir, `${name}.pem`),
  "--key",
  join(dir, `${name}-key.pem`),
];

/** buf curl over gRPC with TLS; resolves with stdout, rejects with its error (stderr in the message). */
export async function bufCurl(
  port: number,
  method: string,
  tlsArgs: string[],
  body: unknown = {},
  headers: string[] = [],
): Promise<string> {
  const { stdout } = await promisify(execFile)(
    BUF,
    [
      "curl",
      "--protocol",
      "grpc",
      ...tlsArgs,
      ...headers.flatMap((header) => ["-H", header]),
      "-d",
      JSON.stringify(body),
      `https://127.0.0.1:${port}/${method}`,
    ],
    { timeout: 20_000 },
  );
  return stdout;
}
