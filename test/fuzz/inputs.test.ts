// Generated inputs (fast-check) against everything that reads what others
// send: every RPC's request decoder and the task validator, the config loader
// (file, environment, flags), and the discovery parsers (etcd values, Consul
// answers, SRV records, endpoint URIs). Each must answer every input with a
// value or its own error, never crash or throw something else.
// FUZZ_RUNS inputs per target: 1,000 in the normal suite, 100,000 in CI's
// fuzz step (`FUZZ_RUNS=100000 npx vitest run test/fuzz`).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fromBinary, type DescService } from "@bufbuild/protobuf";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../libs/config/index.js";
import {
  Admin,
  AssignRequestSchema,
  Balancer,
  Coordinator,
  Optimizer,
  validateTaskSpec,
} from "../../libs/contracts/index.js";
import { toEndpoints } from "../../libs/discovery/consul.js";
import { decodeEtcdRecord } from "../../libs/discovery/etcd-record.js";
import { parseEndpointUri } from "../../libs/discovery/endpoint-uri.js";
import { orderSrvRecords } from "../../libs/discovery/srv-order.js";

const RUNS = Number(process.env.FUZZ_RUNS ?? 1_000);
const TIMEOUT_MS = Math.max(60_000, RUNS * 5);
const settings = { numRuns: RUNS, seed: Number(process.env.FUZZ_SEED ?? 0x5ca1e) };

/** Runs `work`; an Error it throws is an answer, anything else thrown is a failure. */
function answers(work: () => unknown): boolean {
  try {
    work();
    return true;
  } catch (error) {
    return error instanceof Error;
  }
}

const services: DescService[] = [Admin, Balancer, Coordinator, Optimizer];

describe("fuzzing", () => {
  it(
    "every RPC's request decoder answers any bytes, and the task validator any decoded task",
    () => {
      const methods = services.flatMap((s) => s.methods);
      fc.assert(
        fc.property(
          fc.integer({ min: 0, max: methods.length - 1 }),
          fc.uint8Array({ maxLength: 512 }),
          (index, bytes) => {
            const method = methods[index];
            if (!method) return true;
            return answers(() => fromBinary(method.input, bytes));
          },
        ),
        settings,
      );
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
          let request;
          try {
            request = fromBinary(AssignRequestSchema, bytes);
          } catch {
            return true;
          }
          const verdict = validateTaskSpec(request.task, { maxPayloadBytes: 256 });
          return verdict === undefined || verdict instanceof Error;
        }),
        settings,
      );
    },
    TIMEOUT_MS,
  );

  const dir = mkdtempSync(join(tmpdir(), "scalemesh-fuzz-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it(
    "the config loader answers any file, environment and flags with a config or issues",
    () => {
      const file = join(dir, "scalemesh.yaml");
      const key = fc.constantFrom(
        "coordinator.grpc_port",
        "balancer.strategy",
        "scaling.min_workers",
        "tls.cert_file",
        "auth.token_file",
        "worker.labels",
        "nosuch.key",
        "rpc",
      );
      const value = fc.oneof(
        fc.string({ maxLength: 20 }),
        fc.integer().map(String),
        fc.constant(""),
      );
      fc.assert(
        fc.property(
          fc.string({ maxLength: 300 }),
          fc.dictionary(
            key.map((k) => `SCALEMESH_${k.toUpperCase().replaceAll(".", "_")}`),
            value,
            { maxKeys: 3 },
          ),
          fc.array(
            fc.tuple(key, value).map(([k, v]) => `--${k}=${v}`),
            { maxLength: 3 },
          ),
          (text, env, argv) => {
            writeFileSync(file, text);
            return answers(() => {
              const loaded = loadConfig({
                argv,
                env: { ...env, SCALEMESH_CONFIG: file },
                cwd: dir,
              });
              if (!loaded.ok && loaded.message === "") throw new Error("an empty refusal");
            });
          },
        ),
        settings,
      );
    },
    TIMEOUT_MS,
  );

  it(
    "the discovery parsers answer any etcd value, Consul answer, SRV records and URI",
    () => {
      fc.assert(
        fc.property(fc.string({ maxLength: 300 }), (text) => answers(() => decodeEtcdRecord(text))),
        settings,
      );
      fc.assert(
        fc.property(fc.jsonValue({ maxDepth: 4 }), (json) => answers(() => toEndpoints(json))),
        settings,
      );
      fc.assert(
        fc.property(
          fc.array(
            fc.record({
              name: fc.string({ maxLength: 10 }),
              port: fc.integer({ min: -1, max: 70_000 }),
              priority: fc.oneof(fc.integer(), fc.double()),
              weight: fc.oneof(fc.integer(), fc.double()),
            }),
            { maxLength: 12 },
          ),
          fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
          (records, draw) => {
            const ordered = orderSrvRecords(records, () => draw);
            // The same records, each once.
            return ordered.length === records.length && new Set(ordered).size === records.length;
          },
        ),
        settings,
      );
      fc.assert(
        fc.property(
          fc.oneof(
            fc.string({ maxLength: 80 }),
            fc
              .tuple(
                fc.constantFrom("static://", "dns+srv://", "consul://", "etcd://", "k8s://", ""),
                fc.string({ maxLength: 60 }),
              )
              .map(([scheme, rest]) => `${scheme}${rest}`),
          ),
          (uri) =>
            answers(() => {
              const parsed = parseEndpointUri(uri);
              if (!parsed.ok && parsed.error === "") throw new Error("an empty refusal");
            }),
        ),
        settings,
      );
    },
    TIMEOUT_MS,
  );
});

// The one expectation vitest needs to see per file; the properties above assert themselves.
expect(RUNS).toBeGreaterThan(0);
