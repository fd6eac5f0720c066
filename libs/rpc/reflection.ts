// What @grpc/reflection reads, built straight from the generated descriptors.
// Going through @grpc/proto-loader merges the files of one package and sends
// imported files with an empty dependency list (grpc-node issue 3018), so a
// client cannot resolve google.protobuf.Timestamp; and protobufjs names map
// entry types its own way ("Statuses" where protoc writes "StatusesEntry"),
// which Go clients (grpcurl, buf curl) reject as an invalid map. Here every
// file, grpc.health.v1 included, is the descriptor protoc makes: its real
// name, its real dependency list, every transitive dependency served.
import { toBinary, type DescFile, type DescService } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Health } from "../contracts/gen/grpc/health/v1/health_pb.js";

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
 * takes: one entry per service, grpc.health.v1.Health among them, each
 * carrying every file it needs.
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
  for (const service of [...services, Health]) {
    pkg[service.typeName] = { fileDescriptorProtos: filesOf([service]).map(encode) };
  }
  return pkg;
}
