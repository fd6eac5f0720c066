// A service's main: the token key of auth.token_public_key_file, read and
// checked once, with the revoked ids of auth.revoked_tokens_file (undefined
// when no key is set: nothing asks for tokens), and the role token of
// auth.token_file its own calls carry; exit 2 when either cannot be used.
import { readFileSync } from "node:fs";
import { useBearerToken } from "../rpc/client.js";
import { isTokenPublicKey } from "./join-token.js";
import type { Role } from "./roles.js";
import { revokedTokenReader } from "./revoked-tokens.js";

export interface TokenKey {
  readonly publicKeyPem: string;
  readonly revoked: () => ReadonlySet<string>;
  readonly revokedFile: string;
  readonly certificateRoles: Readonly<Record<string, Role>>;
}

export async function tokenKeyOrExit(auth: {
  readonly token_public_key_file: string;
  readonly revoked_tokens_file: string;
  readonly certificate_roles: Readonly<Record<string, Role>>;
}): Promise<TokenKey | undefined> {
  if (auth.token_public_key_file === "") return undefined;
  let publicKeyPem = "";
  try {
    publicKeyPem = readFileSync(auth.token_public_key_file, "utf8");
  } catch {
    // reported below
  }
  if (!(await isTokenPublicKey(publicKeyPem))) {
    process.stderr.write(
      `auth.token_public_key_file: ${auth.token_public_key_file} is not a readable Ed25519 public key; "scalemesh token keygen DIR" makes a key pair\n`,
    );
    process.exit(2);
  }
  return {
    publicKeyPem,
    revoked: revokedTokenReader(auth.revoked_tokens_file),
    revokedFile: auth.revoked_tokens_file,
    certificateRoles: auth.certificate_roles,
  };
}

/** The role token in `file`, or the message that says why there is none. */
export function readTokenFile(file: string): { token: string } | { problem: string } {
  let token = "";
  try {
    token = readFileSync(file, "utf8").trim();
  } catch {
    // reported below
  }
  return token === ""
    ? {
        problem: `auth.token_file: cannot read a token from ${file}; "scalemesh token create --role ..." prints one`,
      }
    : { token };
}

/** Every call this process makes carries the token of auth.token_file, when one is set; exit 2 when it cannot be read. */
export function useTokenFileOrExit(auth: { readonly token_file: string }): void {
  if (auth.token_file === "") return;
  const read = readTokenFile(auth.token_file);
  if ("problem" in read) {
    process.stderr.write(`${read.problem}\n`);
    process.exit(2);
  }
  useBearerToken(read.token);
}
