// `scalemesh certs init DIR`: a development CA and one certificate per
// service (libs/rpc/dev-certificates.ts), written as PEM files, and the
// settings that turn mutual TLS on with them. Refuses to overwrite a CA.
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { CliUsageError } from "./usage-error.js";

export async function certsInit(
  dir: string,
  options: { hosts: readonly string[]; force: boolean },
  out: (text: string) => void,
): Promise<void> {
  const root = resolve(dir);
  if (existsSync(join(root, "ca.pem")) && !options.force)
    throw new CliUsageError(
      `${join(root, "ca.pem")} exists; certificates signed by it would stop working. Use another DIR, or --force to replace the whole set`,
    );
  // Loaded only here: the X.509 library is not needed by any other command.
  const { CERTIFICATE_NAMES, makeDevelopmentCertificates } =
    await import("../../libs/rpc/dev-certificates.js");
  mkdirSync(root, { recursive: true, mode: 0o700 });
  const made = await makeDevelopmentCertificates({ hosts: options.hosts });
  const write = (name: string, text: string, mode: number): void =>
    writeFileSync(join(root, name), text, { mode });
  write("ca.pem", made.ca.certificatePem, 0o644);
  write("ca-key.pem", made.ca.privateKeyPem, 0o600);
  for (const name of CERTIFICATE_NAMES) {
    const pair = made.services[name];
    if (!pair) continue;
    write(`${name}.pem`, pair.certificatePem, 0o644);
    write(`${name}-key.pem`, pair.privateKeyPem, 0o600);
  }
  out(`wrote a development CA and certificates for ${CERTIFICATE_NAMES.join(", ")} to ${root}`);
  out(
    `  SANs: localhost, 127.0.0.1, ::1, scalemesh-<service>${options.hosts.length ? `, ${options.hosts.join(", ")}` : ""}; valid 1 year (the CA 10)`,
  );
  out("Turn mutual TLS on for every service and the CLI (each reads its own {service} files):");
  out(`  export SCALEMESH_TLS_CA_FILE=${join(root, "ca.pem")}`);
  out(`  export SCALEMESH_TLS_CERT_FILE=${join(root, "{service}.pem")}`);
  out(`  export SCALEMESH_TLS_KEY_FILE=${join(root, "{service}-key.pem")}`);
  out("Keep ca-key.pem away from the services: it signs new certificates, nothing reads it.");
}
