import { describe, expect, it } from "vitest";
import { isLoopbackHost, plaintextRefusal } from "./transport-security.js";

const FILES = {
  certFile: "c.pem",
  keyFile: "k.pem",
  caFile: "ca.pem",
  requireClientCert: true,
  serverName: "",
  reloadIntervalMs: 1_000,
};

describe("plaintext off loopback", () => {
  it.each(["127.0.0.1", "127.0.0.53", "localhost", "::1"])("is fine on %s", (host) => {
    expect(isLoopbackHost(host)).toBe(true);
    expect(plaintextRefusal("coordinator.host", host, undefined, false)).toBeUndefined();
  });

  it.each(["0.0.0.0", "10.0.0.7", "::", "coordinator.internal"])(
    "is refused on %s unless TLS is on or plaintext is asked for",
    (host) => {
      expect(isLoopbackHost(host)).toBe(false);
      expect(plaintextRefusal("coordinator.host", host, undefined, false)).toMatch(
        new RegExp(
          `^coordinator\\.host is ${host.replaceAll(".", "\\.")}, which is not a loopback address`,
        ),
      );
      expect(plaintextRefusal("coordinator.host", host, FILES, false)).toBeUndefined();
      expect(plaintextRefusal("coordinator.host", host, undefined, true)).toBeUndefined();
    },
  );
});
