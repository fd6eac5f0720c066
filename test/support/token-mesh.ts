// For tests of meshes that ask for tokens: the teardown they share.
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { useBearerToken } from "../../libs/rpc/index.js";
import type { Mesh } from "./mesh.js";
import { stopAll } from "./service-process.js";

/** Forgets this process's role token, stops the mesh and every service, removes `dir`. */
export async function stopTokenMesh(mesh: Mesh | undefined, dir: string): Promise<void> {
  useBearerToken(undefined);
  await mesh?.stop();
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
}

/**
 * The env that gives the mesh's own calls (balancer to coordinator,
 * coordinator to optimizer) `serviceToken`, a service role token, through
 * auth.token_file: without TLS they have no certificate to prove it by.
 */
export function serviceTokenEnv(dir: string, serviceToken: string): Record<string, string> {
  const file = join(dir, "service.token");
  writeFileSync(file, `${serviceToken}\n`);
  return { SCALEMESH_AUTH_TOKEN_FILE: file };
}
