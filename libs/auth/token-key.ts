// A service's main: the token key of auth.token_public_key_file, read and
// checked once, with the revoked ids of auth.revoked_tokens_file. Undefined
// when no key is set (nothing asks for tokens); exit 2 when it cannot be used.
import { readFileSync } from "node:fs";
import { isTokenPublicKey } from "./join-token.js";
import { revokedTokenReader } from "./revoked-tokens.js";

export interface TokenKey {
  readonly publicKeyPem: string;
  readonly revoked: () => ReadonlySet<string>;
  readonly revokedFile: string;
}

export async function tokenKeyOrExit(auth: {
  readonly token_public_key_file: string;
  readonly revoked_tokens_file: string;
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
  };
}
