import { describe, expect, it } from "vitest";
import { decodeEtcdRecord, encodeEtcdRecord, joinHostPort } from "./etcd-record.js";
import type { ServiceInstance } from "./registrar.js";

const instance = (overrides: Partial<ServiceInstance> = {}): ServiceInstance => ({
  id: "coordinator-a-7070",
  host: "10.0.0.5",
  port: 7070,
  region: "eu-west",
  zone: "eu-west-1a",
  meta: { kind: "coordinator", version: "0.1.0" },
  check: { kind: "grpc", address: "10.0.0.5:7070" },
  ...overrides,
});

describe("etcd record", () => {
  it("round-trips an instance's address, region, zone and meta", () => {
    expect(decodeEtcdRecord(encodeEtcdRecord(instance()))).toEqual({
      ok: true,
      address: "10.0.0.5:7070",
      region: "eu-west",
      zone: "eu-west-1a",
      meta: { kind: "coordinator", version: "0.1.0" },
    });
  });

  it("brackets an IPv6 host so the port stays readable", () => {
    expect(joinHostPort("::1", 7070)).toBe("[::1]:7070");
    expect(joinHostPort("[::1]", 7070)).toBe("[::1]:7070");
    expect(decodeEtcdRecord(encodeEtcdRecord(instance({ host: "fd00::5" })))).toMatchObject({
      ok: true,
      address: "[fd00::5]:7070",
    });
  });

  const readable: [string, string, object][] = [
    ["a plain host:port", "10.0.0.7:7070", { ok: true, address: "10.0.0.7:7070" }],
    [
      "a plain host:port with a trailing newline",
      "coordinator.internal:7070\n",
      { ok: true, address: "coordinator.internal:7070" },
    ],
    ["JSON with an address only", '{"address":"h:1"}', { ok: true, address: "h:1" }],
    [
      "JSON whose empty region and non-string meta are dropped",
      '{"address":"h:1","region":"","meta":{"n":1}}',
      { ok: true, address: "h:1" },
    ],
  ];
  for (const [name, value, expected] of readable) {
    it(`reads ${name}`, () => {
      expect(decodeEtcdRecord(value)).toEqual(expected);
    });
  }

  const unreadable: [string, string][] = [
    ["free text", "not an endpoint"],
    ["a host without a port", "10.0.0.7"],
    ["a port out of range", "h:70000"],
    ["JSON without an address", '{"host":"h","port":1}'],
    ["JSON with an address that is not host:port", '{"address":"h"}'],
    ["a JSON array", '["h:1"]'],
    ["an empty value", ""],
  ];
  for (const [name, value] of unreadable) {
    it(`refuses ${name}, saying what it expected`, () => {
      const decoded = decodeEtcdRecord(value);
      expect(decoded.ok).toBe(false);
      if (!decoded.ok)
        expect(decoded.error).toMatch(/neither host:port nor JSON with an "address"/);
    });
  }
});
