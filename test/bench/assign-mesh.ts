// The mesh every Assign measurement runs on: 2 no-op worker agents with 128
// slots each and a pending queue that never refuses, so the figures measure
// the path, not admission.
import { create, toBinary } from "@bufbuild/protobuf";
import { AssignRequestSchema } from "../../libs/contracts/index.js";
import { exampleHandler, startMesh, type Mesh } from "../support/mesh.js";
import { grpcFrame } from "./h2load.js";

export const ASSIGN_MESH_TEXT = "2 no-op workers, 128 slots each";

export function startAssignMesh(
  env: Record<string, string> = {},
  balancerEnv: Record<string, string> = {},
): Promise<Mesh> {
  return startMesh({
    balancerEnv,
    workers: 2,
    slots: 128,
    handler: exampleHandler("noop"),
    env: { SCALEMESH_COORDINATOR_MAX_PENDING_TASKS: "1000000", ...env },
  });
}

/** One Assign request with a 32-byte payload, framed for h2load. */
export function assignRequestFrame(): Buffer {
  return grpcFrame(
    toBinary(
      AssignRequestSchema,
      create(AssignRequestSchema, {
        task: { payload: new TextEncoder().encode("bench payload 32 bytes long....") },
      }),
    ),
  );
}
