// The descriptors reflection serves are the ones protoc makes (buf's compiler
// is protoc-compatible and runs offline here), so Go clients accept them.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fromBinary, type DescService } from "@bufbuild/protobuf";
import {
  FileDescriptorProtoSchema,
  FileDescriptorSetSchema,
  type FileDescriptorProto,
} from "@bufbuild/protobuf/wkt";
import { protoPath as healthProtoPath } from "grpc-health-check";
import { describe, expect, it } from "vitest";
import { Admin, Balancer, Coordinator, Optimizer } from "../contracts/index.js";
import { projectRoot } from "../telemetry/version.js";
import { reflectionPackage } from "./reflection.js";

const root = projectRoot();
const SERVICES: readonly DescService[] = [Coordinator, Admin, Balancer, Optimizer];

/** What buf (protoc's output, no source info) compiles from a directory of protos, by file name. */
function compiled(directory: string): Map<string, FileDescriptorProto> {
  const bytes = execFileSync(
    join(root, "node_modules", ".bin", "buf"),
    [
      "build",
      directory,
      "--exclude-source-info",
      "--as-file-descriptor-set",
      "-o",
      "-#format=binpb",
    ],
    {
      cwd: root,
      maxBuffer: 16 * 1024 * 1024,
    },
  );
  return new Map(fromBinary(FileDescriptorSetSchema, bytes).file.map((file) => [file.name, file]));
}

function served(): Map<string, FileDescriptorProto[]> {
  const pkg = reflectionPackage(SERVICES);
  return new Map(
    Object.entries(pkg).map(([service, { fileDescriptorProtos }]) => [
      service,
      fileDescriptorProtos.map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes)),
    ]),
  );
}

describe("reflectionPackage", () => {
  it("keeps libs/rpc/proto's health.proto equal to the one grpc-health-check serves", () => {
    const ours = readFileSync(
      join(root, "libs", "rpc", "proto", "grpc", "health", "v1", "health.proto"),
      "utf8",
    );
    expect(ours).toBe(readFileSync(healthProtoPath, "utf8"));
  });

  it("serves every file as protoc compiles it, grpc.health.v1 included", () => {
    const expected = new Map([...compiled("proto"), ...compiled("libs/rpc/proto")]);
    const files = served();
    expect([...files.keys()].sort()).toEqual(
      [...SERVICES.map((s) => s.typeName), "grpc.health.v1.Health"].sort(),
    );
    for (const [service, protos] of files) {
      for (const file of protos) {
        const want = expected.get(file.name);
        expect(want, `${service}: ${file.name}`).toBeDefined();
        expect(file, `${service}: ${file.name}`).toEqual(want);
      }
    }
  });

  it("names the health map entry as protoc does", () => {
    const [health] = served().get("grpc.health.v1.Health") ?? [];
    expect(health?.name).toBe("grpc/health/v1/health.proto");
    const list = health?.messageType.find((m) => m.name === "HealthListResponse");
    expect(list?.nestedType.map((m) => [m.name, m.options?.mapEntry])).toEqual([
      ["StatusesEntry", true],
    ]);
    expect(list?.field[0]?.typeName).toBe(".grpc.health.v1.HealthListResponse.StatusesEntry");
  });

  it("lists each service's files dependencies first, every import included", () => {
    for (const [service, protos] of served()) {
      const names = protos.map((file) => file.name);
      protos.forEach((file, at) => {
        for (const dependency of file.dependency) {
          const found = names.indexOf(dependency);
          expect(found, `${service}: ${file.name} imports ${dependency}`).toBeGreaterThanOrEqual(0);
          expect(found, `${service}: ${dependency} before ${file.name}`).toBeLessThan(at);
        }
      });
    }
  });
});
