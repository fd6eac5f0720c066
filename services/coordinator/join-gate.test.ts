import { create } from "@bufbuild/protobuf";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { createJoinToken, generateTokenKeys } from "../../libs/auth/join-token.js";
import { RegisterSchema } from "../../libs/contracts/index.js";
import { Code, toConnectError } from "../../libs/rpc/index.js";
import { createJoinGate } from "./join-gate.js";

const keys = await generateTokenKeys();
const register = (workerId: string) => create(RegisterSchema, { worker: { workerId, slots: 1 } });

describe("join gate", () => {
  it("holds one token to auth.max_sessions_per_token sessions at once, and frees a place as one ends", async () => {
    const gate = createJoinGate({
      publicKeyPem: keys.publicKeyPem,
      revoked: () => new Set(),
      logger: pino({ level: "silent" }),
      maxSessionsPerToken: 2,
    });
    const { token, claims } = await createJoinToken(keys.privateKeyPem, {
      workerPattern: "w-*",
      capabilities: [],
      ttlSec: 60,
    });
    const other = await createJoinToken(keys.privateKeyPem, {
      workerPattern: "w-*",
      capabilities: [],
      ttlSec: 60,
    });
    const first = await gate.admit(`Bearer ${token}`, register("w-1"));
    await gate.admit(`Bearer ${token}`, register("w-2"));
    const third = await gate.admit(`Bearer ${token}`, register("w-3")).then(
      () => undefined,
      (error: unknown) => toConnectError(error),
    );
    expect(third?.code).toBe(Code.ResourceExhausted);
    expect(third?.rawMessage).toBe(
      `join token ${claims.tokenId} already has 2 sessions open (auth.max_sessions_per_token 2); retry once one has ended`,
    );
    expect(third?.rawMessage).not.toContain(token.slice(-20));
    // Another token is counted on its own.
    await gate.admit(`Bearer ${other.token}`, register("w-4"));
    first();
    first();
    await gate.admit(`Bearer ${token}`, register("w-3"));
    await expect(gate.admit(`Bearer ${token}`, register("w-5"))).rejects.toThrow(/already has 2/);
  });
});
