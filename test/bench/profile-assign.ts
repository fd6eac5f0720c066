// Profiles the Assign path: a mesh whose processes write CPU profiles
// (node --cpu-prof) while h2load drives Balancer/Assign, so an optimisation
// starts from what the profile shows. `node dist/test/bench/profile-assign.js DIR [in flight] [seconds]`
import { mkdirSync } from "node:fs";
import { assignRequestFrame, startAssignMesh } from "./assign-mesh.js";
import { runH2load } from "./h2load.js";

const [dir = "/tmp/scalemesh-profile", inFlightText = "64", secondsText = "8"] =
  process.argv.slice(2);
mkdirSync(dir, { recursive: true });
const body = assignRequestFrame();
const mesh = await startAssignMesh({
  CPU_PROFILE_DIR: dir,
  ...(process.env.PROFILE_TRACE_RATIO
    ? {
        SCALEMESH_TELEMETRY_TRACE_SAMPLE_RATIO: process.env.PROFILE_TRACE_RATIO,
        OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318",
      }
    : {}),
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
