// `scalemesh token keygen DIR`, `token create` and `token revoke`: the
// signing key stays with whoever mints join tokens; the coordinator gets
// only the public key (auth.token_public_key_file) and the revoked ids
// (auth.revoked_tokens_file). A token goes to stdout alone, so it can be
// piped into a file or a secret; what it allows goes to stderr.
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { CliUsageError } from "./usage-error.js";

export async function tokenKeygen(
  dir: string,
  force: boolean,
  out: (text: string) => void,
): Promise<void> {
  const root = resolve(dir);
  const privatePath = join(root, "token-signing-key.pem");
  const publicPath = join(root, "token-public-key.pem");
  if (existsSync(privatePath) && !force)
    throw new CliUsageError(
      `${privatePath} exists; tokens it signed would stop working. Use another DIR, or --force`,
    );
  const { generateTokenKeys } = await import("../../libs/auth/join-token.js");
  const keys = await generateTokenKeys();
  mkdirSync(root, { recursive: true, mode: 0o700 });
  writeFileSync(privatePath, keys.privateKeyPem, { mode: 0o600 });
  writeFileSync(publicPath, keys.publicKeyPem, { mode: 0o644 });
  out(`wrote ${privatePath} (signs join tokens: keep it off the coordinator)`);
  out(`wrote ${publicPath}`);
  out("Ask every worker for a token:");
  out(`  export SCALEMESH_AUTH_TOKEN_PUBLIC_KEY_FILE=${publicPath}`);
}

export async function tokenCreate(
  options: {
    key: string;
    worker?: string;
    role?: string;
    holder?: string;
    capabilities: readonly string[];
    ttlMs: number;
  },
  out: (text: string) => void,
  note: (text: string) => void,
): Promise<void> {
  let privateKeyPem: string;
  try {
    privateKeyPem = readFileSync(options.key, "utf8");
  } catch {
    throw new CliUsageError(
      `--key: cannot read ${options.key}; "scalemesh token keygen DIR" makes one`,
    );
  }
  const notAKey = (): never => {
    throw new CliUsageError(
      `--key: ${options.key} is not a token signing key from "scalemesh token keygen"`,
    );
  };
  if ((options.worker === undefined) === (options.role === undefined))
    throw new CliUsageError("give --worker (a join token) or --role (a role token), not both");
  if (options.role !== undefined) {
    const { createRoleToken, isRole, ROLES } = await import("../../libs/auth/roles.js");
    if (!isRole(options.role))
      throw new CliUsageError(`--role must be one of ${ROLES.join(", ")}, got "${options.role}"`);
    const holder = options.holder?.trim() || options.role;
    const made = await createRoleToken(privateKeyPem, {
      role: options.role,
      holder,
      ttlSec: options.ttlMs / 1000,
    }).catch(notAKey);
    out(made.token);
    note(
      `role token ${made.tokenId}: ${options.role} for "${holder}", expires ${new Date(made.expiresAtMs).toISOString()}`,
    );
    return;
  }
  const worker = options.worker ?? "";
  if (worker.trim() === "") throw new CliUsageError("--worker must name a worker id or pattern");
  const { createJoinToken } = await import("../../libs/auth/join-token.js");
  const { token, claims } = await createJoinToken(privateKeyPem, {
    workerPattern: worker,
    capabilities: options.capabilities,
    ttlSec: options.ttlMs / 1000,
  }).catch(notAKey);
  out(token);
  note(
    `join token ${claims.tokenId}: workers "${claims.workerPattern}", capabilities ${claims.capabilities.join(", ") || "none"}, expires ${new Date(claims.expiresAtMs).toISOString()}`,
  );
}

export function tokenRevoke(tokenId: string, file: string, out: (text: string) => void): void {
  if (file === "")
    throw new CliUsageError(
      "--revoked-file (or auth.revoked_tokens_file) must name the file the coordinator reads",
    );
  if (!/^[0-9a-f-]{36}$/.test(tokenId))
    throw new CliUsageError(`"${tokenId}" is not a token id (the id "token create" printed)`);
  appendFileSync(file, `${tokenId}\n`, { mode: 0o644 });
  out(`revoked ${tokenId}: the coordinator refuses it from its next join on (${file})`);
}
