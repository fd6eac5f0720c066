import { describe, expect, it } from "vitest";
import { Admin, Balancer } from "../contracts/index.js";
import { METHOD_ROLES, requiredRole, roleAllows } from "./roles.js";

describe("roles", () => {
  it("name the role of every Admin and Balancer method (an unlisted one would need admin)", () => {
    for (const service of [Admin, Balancer])
      for (const method of service.methods)
        expect(METHOD_ROLES[`${service.name}/${method.name}`], method.name).toBeDefined();
    expect(requiredRole(Admin, Admin.method.purgeTasks)).toBe("admin");
    expect(requiredRole(Admin, Admin.method.drainWorker)).toBe("operator");
    expect(requiredRole(Balancer, Balancer.method.assign)).toBe("client");
  });

  it("nest viewer in operator in admin, and keep client apart", () => {
    expect(roleAllows("admin", "viewer")).toBe(true);
    expect(roleAllows("operator", "viewer")).toBe(true);
    expect(roleAllows("viewer", "operator")).toBe(false);
    expect(roleAllows("operator", "admin")).toBe(false);
    expect(roleAllows("client", "client")).toBe(true);
    expect(roleAllows("admin", "client")).toBe(false);
    expect(roleAllows("client", "viewer")).toBe(false);
  });
});
