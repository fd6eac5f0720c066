// Roles for the people and programs that call scalemesh, carried by role
// tokens (JWTs signed with the same key as join tokens, audience
// "scalemesh-role") as `authorization: Bearer <token>`, over gRPC metadata and
// HTTP alike, or by a client certificate the CA signed whose name
// auth.certificate_roles maps to a role:
//   viewer    status, lists, forecasts, scaling history
//   operator  a viewer, and drain, cordon, uncordon, cancel, retry, scale
//   admin     an operator, and purge
//   client    Assign, AssignStream, AwaitTask, Route; the Leases service
//   service   the mesh's own calls: balancer to coordinator (Place, cluster
//             watch, WaitTask), coordinator to optimizer; and a viewer's reads
// A method missing from the table needs admin (fail closed). authorizedService
// wraps an implementation so each of its methods checks first; a refusal
// names the role needed, never the token.
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { permissionDenied, unauthenticated } from "../rpc/errors.js";
import { PEER_CERTIFICATE_NAMES } from "../rpc/peer-certificate.js";
import { bearerTokenOf, signScalemeshToken, verifyScalemeshToken } from "./join-token.js";

export const ROLES = ["viewer", "operator", "admin", "client", "service"] as const;
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
  "Coordinator/Place": "service",
  "Coordinator/PlaceStream": "service",
  "Coordinator/WatchCluster": "service",
  "Coordinator/WaitTask": "service",
  "Optimizer/Observe": "service",
  "Optimizer/WatchRecommendations": "viewer",
  "Optimizer/GetRecommendation": "viewer",
  "Optimizer/GetForecast": "viewer",
  "Optimizer/GetCapacityPlan": "viewer",
  "Leases/AcquireLease": "client",
  "Leases/RenewLease": "client",
  "Leases/ReleaseLease": "client",
};

export function isRole(value: unknown): value is Role {
  return typeof value === "string" && (ROLES as readonly string[]).includes(value);
}

/** Whether a holder of `has` may do what `needs` allows. */
export function roleAllows(has: Role, needs: Role): boolean {
  if (has === "service") return needs === "service" || needs === "viewer";
  if (needs === "service" || needs === "client" || has === "client") return has === needs;
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
  /** Certificate name (subject CN, DNS or URI SAN) to role: auth.certificate_roles. */
  readonly certificateRoles: Readonly<Record<string, Role>>;
}

export interface CallerRole {
  readonly role: Role;
  readonly holder: string;
  /** Where the role came from, as a refusal says it: "this token", "the certificate of NAME". */
  readonly by: string;
}

/**
 * The roles a caller holds: its role token's (from its authorization
 * header) and its client certificate's (`certificateNames`, the names of one
 * the CA signed, mapped by certificateRoles), each when it has one. A token
 * that does not hold is UNAUTHENTICATED even beside a certificate; a caller
 * with neither is too.
 */
export async function callerRoles(
  authorization: string | null,
  certificateNames: readonly string[],
  options: RoleCheckOptions,
): Promise<readonly CallerRole[]> {
  const held: CallerRole[] = [];
  const token = bearerTokenOf(authorization);
  if (token) {
    const verdict = await verifyScalemeshToken(token, AUDIENCE, "role token", {
      publicKeyPem: options.publicKeyPem,
      revoked: options.revoked(),
    });
    if (!verdict.ok) throw unauthenticated(verdict.reason);
    const role = verdict.claims.role;
    if (!isRole(role)) throw unauthenticated("role token names no known role");
    held.push({ role, holder: verdict.subject, by: "this token" });
  }
  const roles = options.certificateRoles;
  const named = certificateNames.find((name) => Object.hasOwn(roles, name));
  const role = named === undefined ? undefined : roles[named];
  if (named !== undefined && role !== undefined)
    held.push({ role, holder: named, by: `the certificate of ${named}` });
  if (held.length > 0) return held;
  const certificate =
    certificateNames.length > 0
      ? `, and the client certificate (${certificateNames[0]}) holds no role in auth.certificate_roles`
      : "";
  throw unauthenticated(
    `this call needs a role token${certificate}: send "authorization: Bearer <token>" ("scalemesh token create --role ..." makes one)`,
  );
}

/** The first of the caller's roles that allows `needs`; PERMISSION_DENIED naming it when none does. */
export async function authorizeCaller(
  what: string,
  needs: Role,
  authorization: string | null,
  certificateNames: readonly string[],
  options: RoleCheckOptions,
): Promise<CallerRole> {
  const held = await callerRoles(authorization, certificateNames, options);
  const allowed = held.find((caller) => roleAllows(caller.role, needs));
  if (allowed) return allowed;
  const has = held.map((caller) => `${caller.by} has ${caller.role}`).join(", ");
  throw permissionDenied(`${what} needs the ${needs} role; ${has}`);
}

/**
 * `impl` with every method checking the caller's role first, except those
 * named in `checkedElsewhere` (a worker session checks its join token).
 */
export function authorizedService<S extends DescService>(
  service: S,
  impl: ServiceImpl<S>,
  options: RoleCheckOptions,
  checkedElsewhere: readonly string[] = [],
): ServiceImpl<S> {
  const wrapped: Record<string, unknown> = {};
  const methods = impl as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const method of service.methods) {
    const handler = methods[method.localName];
    if (!handler) continue;
    if (checkedElsewhere.includes(method.name)) {
      wrapped[method.localName] = handler.bind(impl);
      continue;
    }
    const needs = requiredRole(service, method);
    const what = `${service.name}/${method.name}`;
    const check = async (ctx: HandlerContext): Promise<void> => {
      await authorizeCaller(
        what,
        needs,
        ctx.requestHeader.get("authorization"),
        ctx.values.get(PEER_CERTIFICATE_NAMES),
        options,
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
