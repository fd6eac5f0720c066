import { describe, expect, it } from "vitest";
import { clientIdentity, createClientLimiter } from "./client-limits.js";

describe("client limits", () => {
  it("let a burst through, then refill at the rate, each client on its own bucket", () => {
    const clock = { ms: 0 };
    const limiter = createClientLimiter(
      { ratePerSec: 10, burst: 3, maxInFlight: 0 },
      () => clock.ms,
    );
    for (let i = 0; i < 3; i += 1) limiter.admit("alice").release();
    expect(() => limiter.admit("alice")).toThrow(
      'client "alice" is over balancer.client_rate_per_sec (10/s, burst 3); retry in 100 ms',
    );
    limiter.admit("bob").release();
    clock.ms += 100;
    limiter.admit("alice").release();
    expect(() => limiter.admit("alice")).toThrow(/retry in 100 ms/);
    clock.ms += 40;
    expect(() => limiter.admit("alice")).toThrow(/retry in 60 ms/);
  });

  it("cap the calls in flight, and free a place when one is released", () => {
    const limiter = createClientLimiter({ ratePerSec: 0, burst: 1, maxInFlight: 2 });
    const first = limiter.admit("alice");
    limiter.admit("alice");
    expect(() => limiter.admit("alice")).toThrow(
      'client "alice" already has 2 Assigns in flight (balancer.client_max_in_flight 2); retry when one has answered',
    );
    first.release();
    first.release();
    limiter.admit("alice");
    expect(() => limiter.admit("alice")).toThrow(/already has 2/);
  });

  it("name a client by its verified role token's holder, and nobody else", () => {
    const token = `x.${Buffer.from(JSON.stringify({ sub: "alice" })).toString("base64url")}.y`;
    expect(clientIdentity(`Bearer ${token}`, true)).toBe("alice");
    expect(clientIdentity(`Bearer ${token}`, false)).toBe("anonymous");
    expect(clientIdentity(null, true)).toBe("anonymous");
    expect(clientIdentity("Bearer garbage", true)).toBe("anonymous");
  });
});
