// Profiles the Assign path: a mesh whose processes write CPU profiles
// (node --cpu-prof) while h2load drives Balancer/Assign, so an optimisation
// starts from what the profile shows. `node dist/test/bench/profile-assign.js DIR [in flight] [seconds]`
import { create, toBinary } from "@bufbuild/protobuf";
import { mkdirSync } from "node:fs";
import { AssignRequestSchema } from "../../libs/contracts/index.js";
import { exampleHandler, startMesh } from "../support/mesh.js";
import { grpcFrame, runH2load } from "./h2load.js";

const [dir = "/tmp/scalemesh-profile", inFlightText = "64", secondsText = "8"] =
  process.argv.slice(2);
mkdirSync(dir, { recursive: true });
const body = grpcFrame(
  toBinary(
    AssignRequestSchema,
    create(AssignRequestSchema, { task: { payload: new TextEncoder().encode("profile") } }),
  ),
);
const mesh = await startMesh({
  workers: 2,
  slots: 128,
  handler: exampleHandler("noop"),
  env: {
    SCALEMESH_COORDINATOR_MAX_PENDING_TASKS: "1000000",
    CPU_PROFILE_DIR: dir,
  },
});
try {
  const result = await runH2load({
    url: `http://127.0.0.1:${mesh.balancer.grpcPort}/scalemesh.v1.Balancer/Assign`,
    body,
    inFlight: Number(inFlightText),
    durationSec: Number(secondsText),
    warmUpSec: 1,
  });
  process.stdout.write(
    `${result.throughputPerSec.toFixed(0)} req/s, p99 ${result.p99Ms.toFixed(2)} ms\n`,
  );
} finally {
  await mesh.stop();
}
process.stdout.write(`profiles in ${dir}: one .cpuprofile per process (pid in the name)\n`);
