// Who may join as a worker: with auth.token_public_key_file set, a session's
// Register must come with `authorization: Bearer <join token>` that the key
// verifies, unexpired and not revoked (else UNAUTHENTICATED), for the worker
// id and capabilities it claims (else PERMISSION_DENIED). Without the key,
// anyone who reaches the port may join (mutual TLS may already limit who can).
import type { Logger } from "pino";
import { bearerTokenOf, scopeRefusal, verifyJoinToken } from "../../libs/auth/join-token.js";
import type { Register } from "../../libs/contracts/index.js";
import { permissionDenied, resourceExhausted, unauthenticated } from "../../libs/rpc/index.js";

export interface JoinGate {
  /**
   * Resolves when the worker may join, with what to call once its session
   * ends; rejects with the status to answer.
   */
  admit(authorization: string | null, register: Register): Promise<() => void>;
}

const NOTHING_TO_RELEASE = (): void => undefined;
export const OPEN_JOIN_GATE: JoinGate = { admit: async () => NOTHING_TO_RELEASE };

export function createJoinGate(options: {
  publicKeyPem: string;
  revoked: () => ReadonlySet<string>;
  logger: Logger;
  /** Sessions open at once under one token (auth.max_sessions_per_token); 0: no limit. */
  maxSessionsPerToken?: number;
}): JoinGate {
  const { revoked } = options;
  const maxSessions = options.maxSessionsPerToken ?? 0;
  const openSessions = new Map<string, number>();
  return {
    async admit(authorization, register) {
      const workerId = register.worker?.workerId ?? "";
      const refuse = (status: Error, reason: string): never => {
        options.logger.warn({ workerId, reason }, "worker refused at join");
        throw status;
      };
      const token = bearerTokenOf(authorization);
      if (!token)
        refuse(
          unauthenticated(
            'this coordinator needs a join token: send "authorization: Bearer <token>" (worker.join_token_file; "scalemesh token create" makes one)',
          ),
          "no join token",
        );
      const verdict = await verifyJoinToken(token as string, {
        publicKeyPem: options.publicKeyPem,
        revoked: revoked(),
      });
      if (!verdict.ok) return refuse(unauthenticated(verdict.reason), verdict.reason);
      const outside = scopeRefusal(verdict.claims, workerId, register.worker?.capabilities ?? []);
      if (outside) refuse(permissionDenied(outside), outside);
      const { tokenId } = verdict.claims;
      const open = openSessions.get(tokenId) ?? 0;
      if (maxSessions > 0 && open >= maxSessions)
        refuse(
          resourceExhausted(
            `join token ${tokenId} already has ${open} sessions open (auth.max_sessions_per_token ${maxSessions}); retry once one has ended`,
          ),
          "sessions per token",
        );
      openSessions.set(tokenId, open + 1);
      let isReleased = false;
      return () => {
        if (isReleased) return;
        isReleased = true;
        const left = (openSessions.get(tokenId) ?? 1) - 1;
        if (left > 0) openSessions.set(tokenId, left);
        else openSessions.delete(tokenId);
      };
    },
  };
}
