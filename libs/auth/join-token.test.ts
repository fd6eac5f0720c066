import { describe, expect, it } from "vitest";
import {
  createJoinToken,
  generateTokenKeys,
  matchesPattern,
  scopeRefusal,
  verifyJoinToken,
} from "./join-token.js";

const keys = await generateTokenKeys();
const NOW = 1_800_000_000_000;

describe("join tokens", () => {
  it("verify with the public key alone, carrying their scope and expiry", async () => {
    const { token, claims } = await createJoinToken(keys.privateKeyPem, {
      workerPattern: "gpu-*",
      capabilities: ["gpu"],
      ttlSec: 3600,
      nowMs: NOW,
    });
    const verdict = await verifyJoinToken(token, {
      publicKeyPem: keys.publicKeyPem,
      revoked: new Set(),
      nowMs: NOW + 1000,
    });
    expect(verdict).toEqual({ ok: true, claims });
    expect(claims.expiresAtMs).toBe(NOW + 3_600_000);
  });

  it("refuse an expired, revoked, foreign or tampered token, never echoing it", async () => {
    const { token, claims } = await createJoinToken(keys.privateKeyPem, {
      workerPattern: "*",
      capabilities: [],
      ttlSec: 60,
      nowMs: NOW,
    });
    const other = await generateTokenKeys();
    const verify = (t: string, o: { nowMs?: number; revoked?: string[]; pem?: string } = {}) =>
      verifyJoinToken(t, {
        publicKeyPem: o.pem ?? keys.publicKeyPem,
        revoked: new Set(o.revoked ?? []),
        nowMs: o.nowMs ?? NOW,
      });
    const cases = [
      [await verify(token, { nowMs: NOW + 61_000 }), /has expired/],
      [await verify(token, { revoked: [claims.tokenId] }), /is revoked/],
      [await verify(token, { pem: other.publicKeyPem }), /not signed by this mesh's token key/],
      [await verify(`${token.slice(0, -4)}AAAA`), /not signed|not valid/],
      [await verify("not-a-token"), /not valid/],
    ] as const;
    for (const [verdict, reason] of cases) {
      expect(verdict.ok).toBe(false);
      if (!verdict.ok) {
        expect(verdict.reason).toMatch(reason);
        expect(verdict.reason).not.toContain(token.slice(-20));
      }
    }
  });

  it("scope a worker to its id pattern and capabilities", () => {
    const scope = { workerPattern: "gpu-*", capabilities: ["gpu"] };
    expect(scopeRefusal(scope, "gpu-1", ["gpu"])).toBeUndefined();
    expect(scopeRefusal(scope, "gpu-1", [])).toBeUndefined();
    expect(scopeRefusal(scope, "cpu-1", [])).toMatch(/worker id "cpu-1" is outside .*"gpu-\*"/);
    expect(scopeRefusal(scope, "gpu-1", ["gpu", "fpga"])).toMatch(/capabilities fpga are outside/);
    expect(matchesPattern("a.b*", "a.b-1")).toBe(true);
    expect(matchesPattern("a.b*", "aXb-1")).toBe(false);
    expect(matchesPattern("exact", "exact")).toBe(true);
    expect(matchesPattern("exact", "exact2")).toBe(false);
  });
});
