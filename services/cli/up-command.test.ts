import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../libs/config/index.js";
import { connectHints } from "./up-command.js";

function configWith(env: Record<string, string>) {
  const loaded = loadConfig({ argv: [], env, cwd: "/nonexistent" });
  if (!loaded.ok) throw new Error(loaded.message);
  return loaded.config;
}

describe("the commands up prints", () => {
  it("are plaintext on a plain mesh", () => {
    expect(connectHints(configWith({}))).toEqual({
      scheme: "http",
      balancer: "127.0.0.1:7080",
      grpcurl: "-plaintext",
      curl: "",
      clientTokenNote: "",
    });
  });

  it("carry the CLI's own certificate with TLS on, its role token to Admin, and a client token to Assign", () => {
    const dir = mkdtempSync(join(tmpdir(), "scalemesh-up-hints-"));
    for (const name of ["ca.pem", "cli.pem", "cli-key.pem"]) writeFileSync(join(dir, name), "x");
    const hints = connectHints(
      configWith({
        SCALEMESH_TLS_CA_FILE: join(dir, "ca.pem"),
        SCALEMESH_TLS_CERT_FILE: join(dir, "{service}.pem"),
        SCALEMESH_TLS_KEY_FILE: join(dir, "{service}-key.pem"),
        SCALEMESH_AUTH_TOKEN_FILE: "/run/admin.token",
        SCALEMESH_AUTH_TOKEN_PUBLIC_KEY_FILE: "/run/token-public-key.pem",
      }),
    );
    expect(hints.scheme).toBe("https");
    expect(hints.grpcurl).toBe(
      `-cacert ${dir}/ca.pem -cert ${dir}/cli.pem -key ${dir}/cli-key.pem -H "authorization: Bearer $(cat client.token)"`,
    );
    expect(hints.curl).toBe(
      `--cacert ${dir}/ca.pem --cert ${dir}/cli.pem --key ${dir}/cli-key.pem -H "authorization: Bearer $(cat /run/admin.token)" `,
    );
    expect(hints.clientTokenNote).toContain("--role client > client.token");
  });
});
