// For tests of meshes that ask for tokens: the teardown they share.
import { rmSync } from "node:fs";
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
