// Who may join as a worker: with auth.token_public_key_file set, a session's
// Register must come with `authorization: Bearer <join token>` that the key
// verifies, unexpired and not revoked (else UNAUTHENTICATED), for the worker
// id and capabilities it claims (else PERMISSION_DENIED). Without the key,
// anyone who reaches the port may join (mutual TLS may already limit who can).
import type { Logger } from "pino";
import { scopeRefusal, verifyJoinToken } from "../../libs/auth/join-token.js";
import type { Register } from "../../libs/contracts/index.js";
import { permissionDenied, unauthenticated } from "../../libs/rpc/index.js";

export interface JoinGate {
  /** Resolves when the worker may join; rejects with the status to answer. */
  admit(authorization: string | null, register: Register): Promise<void>;
}

export const OPEN_JOIN_GATE: JoinGate = { admit: async () => undefined };

export function createJoinGate(options: {
  publicKeyPem: string;
  revoked: () => ReadonlySet<string>;
  logger: Logger;
}): JoinGate {
  const { revoked } = options;
  return {
    async admit(authorization, register) {
      const workerId = register.worker?.workerId ?? "";
      const refuse = (status: Error, reason: string): never => {
        options.logger.warn({ workerId, reason }, "worker refused at join");
        throw status;
      };
      const token = /^Bearer\s+(\S+)$/i.exec(authorization ?? "")?.[1];
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
    },
  };
}
