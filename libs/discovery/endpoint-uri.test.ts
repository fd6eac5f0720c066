import { describe, expect, it } from "vitest";
import { parseEndpointUri } from "./endpoint-uri.js";

describe("parseEndpointUri", () => {
  it("reads every endpoint of a static URI", () => {
    expect(parseEndpointUri("static://10.0.0.1:7070, h2:7071")).toEqual({ ok: true, scheme: "static", endpoints: ["10.0.0.1:7070", "h2:7071"] });
  });
  const refusals: [string, RegExp][] = [
    ["127.0.0.1:7070", /not a discovery URI/],
    ["static://", /names no endpoint/],
    ["static://host", /needs host:port/],
    ["static://host:99999", /needs host:port/],
    ["dns+srv://_coordinator._tcp.example", /not supported yet/],
    ["ftp://x:1", /unknown discovery scheme "ftp"/],
  ];
  for (const [uri, message] of refusals) {
    it(`refuses ${uri} with a clear message`, () => {
      const parsed = parseEndpointUri(uri);
      expect(parsed.ok).toBe(false);
      if (!parsed.ok) expect(parsed.error).toMatch(message);
    });
  }
});
