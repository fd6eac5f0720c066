// What grpcurl and an operator see on every gRPC port, with no proto files:
// reflection that resolves every method's messages (well-known types
// included) and grpc.health.v1 per service name.
import { fromBinary, type DescMessage } from "@bufbuild/protobuf";
import { createFileRegistry, type FileRegistry } from "@bufbuild/protobuf";
import {
  FileDescriptorProtoSchema,
  FileDescriptorSetSchema,
  type FileDescriptorProto,
} from "@bufbuild/protobuf/wkt";
import { create } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { protoPath as healthProtoPath } from "grpc-health-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startService, stopAll, type ServiceProcess } from "../support/service-process.js";
import { createReflectionClient } from "../support/reflection-client.js";
import { freshLedgerPath } from "../support/mesh.js";

const EXPECTED: Record<string, string[]> = {
  coordinator: [
    "scalemesh.v1.Coordinator",
    "scalemesh.v1.Admin",
    "scalemesh.v1.Leases",
    "grpc.health.v1.Health",
  ],
  balancer: ["scalemesh.v1.Balancer", "grpc.health.v1.Health"],
  optimizer: ["scalemesh.v1.Optimizer", "grpc.health.v1.Health"],
};

let services: Record<string, ServiceProcess> = {};

beforeAll(async () => {
  const optimizer = await startService("optimizer", {
    env: {
      SCALEMESH_OPTIMIZER_GRPC_PORT: "0",
      SCALEMESH_OPTIMIZER_HTTP_PORT: "0",
      SCALEMESH_OPTIMIZER_HISTORY_PATH: "",
    },
  });
  const coordinator = await startService("coordinator", {
    env: {
      SCALEMESH_LEDGER_PATH: freshLedgerPath(),
      SCALEMESH_COORDINATOR_GRPC_PORT: "0",
      SCALEMESH_COORDINATOR_HTTP_PORT: "0",
      SCALEMESH_COORDINATOR_OPTIMIZER: `static://127.0.0.1:${optimizer.grpcPort}`,
    },
  });
  const balancer = await startService("balancer", {
    env: {
      SCALEMESH_BALANCER_GRPC_PORT: "0",
      SCALEMESH_BALANCER_HTTP_PORT: "0",
      SCALEMESH_BALANCER_COORDINATOR: `static://127.0.0.1:${coordinator.grpcPort}`,
    },
  });
  services = { coordinator, balancer, optimizer };
}, 60_000);

afterAll(stopAll);

/** Every message a method reaches through its fields, resolved from the registry alone. */
function walkMessage(message: DescMessage, seen: Set<string>): void {
  if (seen.has(message.typeName)) return;
  seen.add(message.typeName);
  for (const field of message.fields) {
    if (field.fieldKind === "message") walkMessage(field.message, seen);
    if (field.fieldKind === "map" && field.mapKind === "message") walkMessage(field.message, seen);
  }
}

async function registryFromReflection(
  address: string,
  version: "v1" | "v1alpha",
  service: string,
): Promise<FileRegistry> {
  const client = createReflectionClient(address, version);
  try {
    const files = new Map<string, FileDescriptorProto>();
    const pending = [...(await client.fileContainingSymbol(service))];
    // Fetch imports the server did not send along, as grpcurl does, so a
    // missing dependency shows up as a failed lookup rather than a pass.
    while (pending.length > 0) {
      const file = fromBinary(FileDescriptorProtoSchema, pending.shift() as Uint8Array);
      if (files.has(file.name)) continue;
      files.set(file.name, file);
      for (const dependency of file.dependency) {
        if (!files.has(dependency)) pending.push(...(await client.fileByFilename(dependency)));
      }
    }
    // Dependencies first, as a FileDescriptorSet must be.
    const ordered: FileDescriptorProto[] = [];
    const visit = (file: FileDescriptorProto): void => {
      if (ordered.includes(file)) return;
      for (const dependency of file.dependency) {
        const found = files.get(dependency);
        if (found) visit(found);
      }
      ordered.push(file);
    };
    for (const file of files.values()) visit(file);
    return createFileRegistry(create(FileDescriptorSetSchema, { file: ordered }));
  } finally {
    client.close();
  }
}

describe.each(Object.keys(EXPECTED))("%s gRPC port", (name) => {
  for (const version of ["v1", "v1alpha"] as const) {
    it(`lists its services through reflection ${version}`, async () => {
      const client = createReflectionClient(`127.0.0.1:${services[name]?.grpcPort}`, version);
      try {
        expect((await client.listServices()).sort()).toEqual([...(EXPECTED[name] ?? [])].sort());
      } finally {
        client.close();
      }
    });

    it(`describes every method's messages through reflection ${version} alone`, async () => {
      const address = `127.0.0.1:${services[name]?.grpcPort}`;
      for (const serviceName of EXPECTED[name] ?? []) {
        const registry = await registryFromReflection(address, version, serviceName);
        const service = registry.getService(serviceName);
        expect(service, serviceName).toBeDefined();
        const seen = new Set<string>();
        for (const method of service?.methods ?? []) {
          walkMessage(method.input, seen);
          walkMessage(method.output, seen);
        }
        if (serviceName.startsWith("scalemesh")) {
          expect(service?.methods.length).toBeGreaterThan(1);
          expect([...seen].some((t) => t.startsWith("google.protobuf."))).toBe(true);
        }
      }
    });
  }

  it("answers grpc.health.v1 Check SERVING for the server and each of its services", async () => {
    const loaded = grpc.loadPackageDefinition(
      protoLoader.loadSync(healthProtoPath, { enums: String }),
    ) as unknown as {
      grpc: {
        health: {
          v1: {
            Health: new (
              a: string,
              c: grpc.ChannelCredentials,
            ) => grpc.Client & {
              Check(
                req: { service: string },
                cb: (e: grpc.ServiceError | null, r: { status: string }) => void,
              ): void;
            };
          };
        };
      };
    };
    const client = new loaded.grpc.health.v1.Health(
      `127.0.0.1:${services[name]?.grpcPort}`,
      grpc.credentials.createInsecure(),
    );
    try {
      for (const service of [
        "",
        ...(EXPECTED[name] ?? []).filter((s) => s.startsWith("scalemesh")),
      ]) {
        const response = await new Promise<{ status: string }>((resolve, reject) =>
          client.Check({ service }, (e, r) => (e ? reject(e) : resolve(r))),
        );
        expect(response.status, service || "(server)").toBe("SERVING");
      }
      const unknown = await new Promise<grpc.ServiceError | null>((resolve) =>
        client.Check({ service: "nope.Service" }, (e) => resolve(e)),
      );
      expect(unknown?.code).toBe(grpc.status.NOT_FOUND);
    } finally {
      client.close();
    }
  });

  it("serves /metrics, /healthz and /readyz on its HTTP port", async () => {
    const base = `http://127.0.0.1:${services[name]?.httpPort}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/^# HELP scalemesh_/m);
    expect(metrics).toContain(`scalemesh_service="${name}"`);
  });
});

describe("graceful shutdown", () => {
  it("stops on SIGTERM with exit code 0 and reports NOT_SERVING meanwhile", async () => {
    const extra = await startService("optimizer", {
      env: {
        SCALEMESH_OPTIMIZER_GRPC_PORT: "0",
        SCALEMESH_OPTIMIZER_HTTP_PORT: "0",
        SCALEMESH_OPTIMIZER_HISTORY_PATH: "",
      },
    });
    expect(await extra.stop("SIGTERM")).toBe(0);
    expect(extra.logs.some((l) => l.msg === "stopped")).toBe(true);
  });
});
