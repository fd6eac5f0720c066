// Worker join tokens: JWTs signed with Ed25519 (jose), so the coordinator
// holds only the public key and cannot mint tokens itself. A token names the
// worker ids it may join as (a pattern where * is any run of characters), the
// capabilities it may claim, when it expires, and an id (jti) by which it is
// revoked. The coordinator refuses a worker without a valid one
// (UNAUTHENTICATED) or claiming beyond it (PERMISSION_DENIED).
import { randomUUID } from "node:crypto";
import {
  exportPKCS8,
  exportSPKI,
  generateKeyPair,
  importPKCS8,
  importSPKI,
  jwtVerify,
  SignJWT,
  errors,
} from "jose";

const ALGORITHM = "EdDSA";
/** The `aud` of a join token, so no other scalemesh token can stand in for one. */
const AUDIENCE = "scalemesh-worker-join";

export interface JoinScope {
  /** Worker ids it may join as; * matches any run of characters. */
  readonly workerPattern: string;
  /** Capabilities it may claim; empty: none. */
  readonly capabilities: readonly string[];
}

export interface JoinClaims extends JoinScope {
  readonly tokenId: string;
  readonly expiresAtMs: number;
}

export interface TokenKeys {
  readonly privateKeyPem: string;
  readonly publicKeyPem: string;
}

export async function generateTokenKeys(): Promise<TokenKeys> {
  const { publicKey, privateKey } = await generateKeyPair(ALGORITHM, {
    crv: "Ed25519",
    extractable: true,
  });
  return {
    privateKeyPem: await exportPKCS8(privateKey),
    publicKeyPem: await exportSPKI(publicKey),
  };
}

/** Whether `pem` is an Ed25519 public key in SPKI PEM, the form keygen writes. */
export async function isTokenPublicKey(pem: string): Promise<boolean> {
  return importSPKI(pem, ALGORITHM).then(
    () => true,
    () => false,
  );
}

/** The token of an `authorization: Bearer <token>` header, or undefined. */
export function bearerTokenOf(authorization: string | null): string | undefined {
  return /^Bearer\s+(\S+)$/i.exec(authorization ?? "")?.[1];
}

/** Signs `claims` for `audience`, valid `ttlSec` from `nowMs`; the token and its id. */
export async function signScalemeshToken(
  privateKeyPem: string,
  audience: string,
  subject: string,
  claims: Record<string, unknown>,
  timing: { ttlSec: number; nowMs?: number },
): Promise<{ token: string; tokenId: string; expiresAtMs: number }> {
  const nowSec = Math.floor((timing.nowMs ?? Date.now()) / 1000);
  const tokenId = randomUUID();
  const expiresSec = nowSec + Math.max(1, Math.floor(timing.ttlSec));
  const token = await new SignJWT(claims)
    .setProtectedHeader({ alg: ALGORITHM })
    .setSubject(subject)
    .setAudience(audience)
    .setJti(tokenId)
    .setIssuedAt(nowSec)
    .setExpirationTime(expiresSec)
    .sign(await importPKCS8(privateKeyPem, ALGORITHM));
  return { token, tokenId, expiresAtMs: expiresSec * 1000 };
}

export type TokenVerdict =
  | {
      readonly ok: true;
      readonly tokenId: string;
      readonly subject: string;
      readonly expiresAtMs: number;
      readonly claims: Record<string, unknown>;
    }
  | { readonly ok: false; readonly reason: string };

/**
 * A token for `audience` signed by `publicKeyPem`'s pair, unexpired and not
 * revoked; otherwise why not, in words that never repeat the token.
 * `what` names the kind of token in those words ("join token").
 */
export async function verifyScalemeshToken(
  token: string,
  audience: string,
  what: string,
  options: { publicKeyPem: string; revoked: ReadonlySet<string>; nowMs?: number },
): Promise<TokenVerdict> {
  try {
    const { payload } = await jwtVerify(token, await importSPKI(options.publicKeyPem, ALGORITHM), {
      algorithms: [ALGORITHM],
      audience,
      currentDate: new Date(options.nowMs ?? Date.now()),
      requiredClaims: ["sub", "jti", "exp"],
    });
    const tokenId = String(payload.jti);
    if (options.revoked.has(tokenId)) return { ok: false, reason: `${what} ${tokenId} is revoked` };
    return {
      ok: true,
      tokenId,
      subject: String(payload.sub),
      expiresAtMs: (payload.exp ?? 0) * 1000,
      claims: payload as Record<string, unknown>,
    };
  } catch (error) {
    if (error instanceof errors.JWTExpired) return { ok: false, reason: `${what} has expired` };
    if (error instanceof errors.JWSSignatureVerificationFailed)
      return { ok: false, reason: `${what} is not signed by this mesh's token key` };
    if (error instanceof errors.JOSEError)
      return { ok: false, reason: `${what} is not valid (${error.code})` };
    return { ok: false, reason: `${what} is not valid` };
  }
}

export async function createJoinToken(
  privateKeyPem: string,
  scope: JoinScope & { readonly ttlSec: number; readonly nowMs?: number },
): Promise<{ token: string; claims: JoinClaims }> {
  const signed = await signScalemeshToken(
    privateKeyPem,
    AUDIENCE,
    scope.workerPattern,
    { cap: [...scope.capabilities] },
    scope,
  );
  return {
    token: signed.token,
    claims: {
      tokenId: signed.tokenId,
      expiresAtMs: signed.expiresAtMs,
      workerPattern: scope.workerPattern,
      capabilities: [...scope.capabilities],
    },
  };
}

export type JoinVerdict =
  | { readonly ok: true; readonly claims: JoinClaims }
  | { readonly ok: false; readonly reason: string };

/**
 * The token's claims if it is signed by `publicKeyPem`'s pair, unexpired and
 * not revoked; otherwise why not, in words that never repeat the token.
 */
export async function verifyJoinToken(
  token: string,
  options: { publicKeyPem: string; revoked: ReadonlySet<string>; nowMs?: number },
): Promise<JoinVerdict> {
  const verdict = await verifyScalemeshToken(token, AUDIENCE, "join token", options);
  if (!verdict.ok) return verdict;
  const cap = verdict.claims.cap;
  return {
    ok: true,
    claims: {
      tokenId: verdict.tokenId,
      expiresAtMs: verdict.expiresAtMs,
      workerPattern: verdict.subject,
      capabilities: Array.isArray(cap) ? cap.map(String) : [],
    },
  };
}

/** Why a worker may not join as `workerId` claiming `capabilities` under `claims`, or undefined. */
export function scopeRefusal(
  claims: JoinScope,
  workerId: string,
  capabilities: readonly string[],
): string | undefined {
  if (!matchesPattern(claims.workerPattern, workerId))
    return `worker id "${workerId}" is outside the join token's scope "${claims.workerPattern}"`;
  const beyond = capabilities.filter((c) => !claims.capabilities.includes(c));
  if (beyond.length > 0)
    return `capabilities ${beyond.join(", ")} are outside the join token's scope (${claims.capabilities.join(", ") || "none"})`;
  return undefined;
}

export function matchesPattern(pattern: string, value: string): boolean {
  const parts = pattern.split("*").map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"));
  return new RegExp(`^${parts.join(".*")}$`).test(value);
}
