// Roles for the people and programs that call scalemesh, carried by role
// tokens (JWTs signed with the same key as join tokens, audience
// "scalemesh-role") as `authorization: Bearer <token>`, over gRPC metadata and
// HTTP alike:
//   viewer    status, lists, forecasts, scaling history
//   operator  a viewer, and drain, cordon, uncordon, cancel, retry, scale
//   admin     an operator, and purge
//   client    Assign, AssignStream, AwaitTask, Route
// A method of the Admin or Balancer service missing from the table needs
// admin (fail closed). authorizedService wraps an implementation so each of
// its methods checks first; a refusal names the role needed, never the token.
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { permissionDenied, unauthenticated } from "../rpc/errors.js";
import { bearerTokenOf, signScalemeshToken, verifyScalemeshToken } from "./join-token.js";

export const ROLES = ["viewer", "operator", "admin", "client"] as const;
export type Role = (typeof ROLES)[number];

const AUDIENCE = "scalemesh-role";

/** The role each method needs, by "Service/Method". */
export const METHOD_ROLES: Readonly<Record<string, Role>> = {
  "Admin/GetClusterStatus": "viewer",
  "Admin/ListWorkers": "viewer",
  "Admin/GetWorker": "viewer",
  "Admin/ListTasks": "viewer",
  "Admin/GetTask": "viewer",
  "Admin/GetScalingStatus": "viewer",
  "Admin/GetScalingHistory": "viewer",
  "Admin/RetryTask": "operator",
  "Admin/CancelTask": "operator",
  "Admin/DrainWorker": "operator",
  "Admin/CordonWorker": "operator",
  "Admin/UncordonWorker": "operator",
  "Admin/ScaleWorkers": "operator",
  "Admin/SetAutoscaling": "operator",
  "Admin/PurgeTasks": "admin",
  "Balancer/Assign": "client",
  "Balancer/AssignStream": "client",
  "Balancer/AwaitTask": "client",
  "Balancer/Route": "client",
};

export function isRole(value: unknown): value is Role {
  return typeof value === "string" && (ROLES as readonly string[]).includes(value);
}

/** Whether a holder of `has` may do what `needs` allows. */
export function roleAllows(has: Role, needs: Role): boolean {
  if (needs === "client" || has === "client") return has === needs;
  const rank = { viewer: 0, operator: 1, admin: 2 } as const;
  return rank[has] >= rank[needs];
}

export function requiredRole(service: DescService, method: DescMethod): Role {
  return METHOD_ROLES[`${service.name}/${method.name}`] ?? "admin";
}

export async function createRoleToken(
  privateKeyPem: string,
  grant: { role: Role; holder: string; ttlSec: number; nowMs?: number },
): Promise<{ token: string; tokenId: string; expiresAtMs: number }> {
  return signScalemeshToken(privateKeyPem, AUDIENCE, grant.holder, { role: grant.role }, grant);
}

export interface RoleCheckOptions {
  readonly publicKeyPem: string;
  readonly revoked: () => ReadonlySet<string>;
}

/** The caller's role from its authorization header; UNAUTHENTICATED when it has none that holds. */
export async function callerRole(
  authorization: string | null,
  options: RoleCheckOptions,
): Promise<{ role: Role; holder: string }> {
  const token = bearerTokenOf(authorization);
  if (!token)
    throw unauthenticated(
      'this call needs a role token: send "authorization: Bearer <token>" ("scalemesh token create --role ..." makes one)',
    );
  const verdict = await verifyScalemeshToken(token, AUDIENCE, "role token", {
    publicKeyPem: options.publicKeyPem,
    revoked: options.revoked(),
  });
  if (!verdict.ok) throw unauthenticated(verdict.reason);
  const role = verdict.claims.role;
  if (!isRole(role)) throw unauthenticated("role token names no known role");
  return { role, holder: verdict.subject };
}

/** `impl` with every method checking the caller's role first. */
export function authorizedService<S extends DescService>(
  service: S,
  impl: ServiceImpl<S>,
  options: RoleCheckOptions,
): ServiceImpl<S> {
  const wrapped: Record<string, unknown> = {};
  const methods = impl as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const method of service.methods) {
    const handler = methods[method.localName];
    if (!handler) continue;
    const needs = requiredRole(service, method);
    const check = async (ctx: HandlerContext): Promise<void> => {
      const { role } = await callerRole(ctx.requestHeader.get("authorization"), options);
      if (!roleAllows(role, needs))
        throw permissionDenied(
          `${service.name}/${method.name} needs the ${needs} role; this token has ${role}`,
        );
    };
    wrapped[method.localName] =
      method.methodKind === "unary" || method.methodKind === "client_streaming"
        ? async (request: unknown, ctx: HandlerContext) => {
            await check(ctx);
            return handler.call(impl, request, ctx);
          }
        : async function* (request: unknown, ctx: HandlerContext) {
            await check(ctx);
            yield* handler.call(impl, request, ctx) as AsyncIterable<unknown>;
          };
  }
  return wrapped as ServiceImpl<S>;
}
