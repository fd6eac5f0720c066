import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { Admin, Balancer, Coordinator, Leases, Optimizer } from "../contracts/index.js";
import { toConnectError } from "../rpc/errors.js";
import { certificateNames } from "../rpc/peer-certificate.js";
import {
  authorizeCaller,
  callerRoles,
  createRoleToken,
  METHOD_ROLES,
  requiredRole,
  roleAllows,
} from "./roles.js";

const { publicKey, privateKey } = generateKeyPairSync("ed25519");
const keys = {
  publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString(),
  privateKeyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
};
// auth.certificate_roles as the config has it by default.
const options = {
  publicKeyPem: keys.publicKeyPem,
  revoked: () => new Set<string>(),
  certificateRoles: {
    "scalemesh-balancer": "service",
    "scalemesh-coordinator": "service",
  } as const,
};

async function refusal(call: Promise<unknown>): Promise<string> {
  try {
    await call;
    return "allowed";
  } catch (error) {
    return toConnectError(error).rawMessage;
  }
}

describe("roles", () => {
  it("name the role of every method but the worker session, which its join token guards", () => {
    for (const service of [Admin, Balancer, Coordinator, Optimizer, Leases])
      for (const method of service.methods)
        if (method.name !== "WorkerSession")
          expect(METHOD_ROLES[`${service.name}/${method.name}`], method.name).toBeDefined();
    expect(requiredRole(Admin, Admin.method.purgeTasks)).toBe("admin");
    expect(requiredRole(Admin, Admin.method.drainWorker)).toBe("operator");
    expect(requiredRole(Balancer, Balancer.method.assign)).toBe("client");
    expect(requiredRole(Coordinator, Coordinator.method.place)).toBe("service");
    expect(requiredRole(Optimizer, Optimizer.method.observe)).toBe("service");
    expect(requiredRole(Coordinator, Coordinator.method.workerSession)).toBe("admin");
  });

  it("nest viewer in operator in admin, and keep client and service apart", () => {
    expect(roleAllows("admin", "viewer")).toBe(true);
    expect(roleAllows("operator", "viewer")).toBe(true);
    expect(roleAllows("viewer", "operator")).toBe(false);
    expect(roleAllows("operator", "admin")).toBe(false);
    expect(roleAllows("client", "client")).toBe(true);
    expect(roleAllows("admin", "client")).toBe(false);
    expect(roleAllows("client", "viewer")).toBe(false);
    expect(roleAllows("service", "service")).toBe(true);
    expect(roleAllows("service", "viewer")).toBe(true);
    expect(roleAllows("service", "operator")).toBe(false);
    expect(roleAllows("service", "client")).toBe(false);
    expect(roleAllows("admin", "service")).toBe(false);
    expect(roleAllows("client", "service")).toBe(false);
  });

  it("hold the roles of a mapped certificate name and of a token, and allow what either allows", async () => {
    const byCertificate = await callerRoles(null, ["scalemesh-balancer", "localhost"], options);
    expect(byCertificate).toEqual([
      {
        role: "service",
        holder: "scalemesh-balancer",
        by: "the certificate of scalemesh-balancer",
      },
    ]);
    const mapped = { ...options, certificateRoles: { "spiffe://mesh/ops": "viewer" as const } };
    expect((await callerRoles(null, ["ops", "spiffe://mesh/ops"], mapped))[0]?.role).toBe("viewer");
    // The default mapping no longer holds once the map is set.
    expect(await refusal(callerRoles(null, ["scalemesh-balancer"], mapped))).toContain(
      "the client certificate (scalemesh-balancer) holds no role in auth.certificate_roles",
    );
    expect(await refusal(callerRoles(null, ["scalemesh-worker-agent"], options))).toMatch(
      /^this call needs a role token, and the client certificate \(scalemesh-worker-agent\) holds no role/,
    );
    expect(await refusal(callerRoles(null, [], options))).toMatch(/^this call needs a role token:/);

    const { token } = await createRoleToken(keys.privateKeyPem, {
      role: "admin",
      holder: "ops",
      ttlSec: 60,
    });
    const both = await callerRoles(`Bearer ${token}`, ["scalemesh-balancer"], options);
    expect(both.map((held) => held.role)).toEqual(["admin", "service"]);
    // An admin token beside the balancer's certificate still places; and purges.
    const place = (needs: "service" | "admin" | "client") =>
      authorizeCaller("X/Y", needs, `Bearer ${token}`, ["scalemesh-balancer"], options);
    expect((await place("service")).by).toBe("the certificate of scalemesh-balancer");
    expect((await place("admin")).by).toBe("this token");
    expect(await refusal(place("client"))).toBe(
      "X/Y needs the client role; this token has admin, the certificate of scalemesh-balancer has service",
    );
    // A token that does not hold is refused even beside a certificate that would.
    expect(
      await refusal(
        authorizeCaller("X/Y", "service", "Bearer forged", ["scalemesh-balancer"], options),
      ),
    ).toMatch(/^role token is not valid/);
  });

  it("read a certificate's CN and its DNS and URI names, never its IP addresses", () => {
    const names = certificateNames({
      subject: { CN: "scalemesh-balancer" },
      subjectaltname:
        "DNS:localhost, DNS:scalemesh-balancer, IP Address:127.0.0.1, URI:spiffe://mesh/balancer",
    } as never);
    expect(names).toEqual([
      "scalemesh-balancer",
      "localhost",
      "scalemesh-balancer",
      "spiffe://mesh/balancer",
    ]);
    expect(certificateNames(undefined)).toEqual([]);
    expect(certificateNames({} as never)).toEqual([]);
  });
});
