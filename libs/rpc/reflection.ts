// What @grpc/reflection reads, built straight from the generated descriptors.
// Going through @grpc/proto-loader merges the files of one package and sends
// imported files with an empty dependency list (grpc-node issue 3018), so a
// client cannot resolve google.protobuf.Timestamp. Here every file keeps its
// real dependency list and every transitive dependency is served.
import { fromBinary, toBinary, type DescFile, type DescService } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import * as protoLoader from "@grpc/proto-loader";
import { protoPath as healthProtoPath } from "grpc-health-check";

export type ReflectionPackage = Record<string, { fileDescriptorProtos: Buffer[] }>;

/** Files a service needs, dependencies first, each once. */
export function filesOf(services: readonly DescService[]): DescFile[] {
  const ordered: DescFile[] = [];
  const seen = new Set<string>();
  const visit = (file: DescFile): void => {
    if (seen.has(file.name)) return;
    seen.add(file.name);
    for (const dependency of file.dependencies) visit(dependency);
    ordered.push(file);
  };
  for (const service of services) visit(service.file);
  return ordered;
}

/**
 * A package definition in the shape @grpc/reflection's ReflectionService
 * takes: one entry per service, each carrying every file it needs.
 */
export function reflectionPackage(services: readonly DescService[]): ReflectionPackage {
  const encoded = new Map<string, Buffer>();
  const encode = (file: DescFile): Buffer => {
    let bytes = encoded.get(file.name);
    if (!bytes) {
      bytes = Buffer.from(toBinary(FileDescriptorProtoSchema, file.proto));
      encoded.set(file.name, bytes);
    }
    return bytes;
  };
  const pkg: ReflectionPackage = {};
  for (const service of services) {
    pkg[service.typeName] = { fileDescriptorProtos: filesOf([service]).map(encode) };
  }
  pkg["grpc.health.v1.Health"] = { fileDescriptorProtos: healthFileDescriptors() };
  return pkg;
}

/**
 * grpc.health.v1 imports nothing, so proto-loader's descriptor of it is whole.
 * It is served under the canonical name grpc/health/v1/health.proto (the
 * package ships it as grpc_health_v1.proto): clients such as buf curl that
 * have the standard file built in refuse a second file defining the service.
 */
function healthFileDescriptors(): Buffer[] {
  const message = protoLoader.loadSync(healthProtoPath)["grpc.health.v1.HealthCheckRequest"];
  const files = message && "fileDescriptorProtos" in message ? message.fileDescriptorProtos : undefined;
  if (!Array.isArray(files)) {
    throw new Error(`grpc-health-check's ${healthProtoPath} has no grpc.health.v1.HealthCheckRequest`);
  }
  return files.map((bytes: Buffer) => {
    const file = fromBinary(FileDescriptorProtoSchema, bytes);
    file.name = "grpc/health/v1/health.proto";
    return Buffer.from(toBinary(FileDescriptorProtoSchema, file));
  });
}
