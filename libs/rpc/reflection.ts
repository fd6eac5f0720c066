// What @grpc/reflection reads, built straight from the generated descriptors.
// Going through @grpc/proto-loader merges the files of one package and sends
// imported files with an empty dependency list (grpc-node issue 3018), so a
// client cannot resolve google.protobuf.Timestamp. Here every file keeps its
// real dependency list and every transitive dependency is served.
import { fromBinary, toBinary, type DescFile, type DescService } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, type DescriptorProto, type EnumDescriptorProto, type FileDescriptorProto } from "@bufbuild/protobuf/wkt";
import * as protoLoader from "@grpc/proto-loader";
import { protoPath as healthProtoPath } from "grpc-health-check";

export type ReflectionPackage = Record<string, { fileDescriptorProtos: Buffer[] }>;

/** Files a service needs, dependencies first, each once. */
function filesOf(services: readonly DescService[]): DescFile[] {
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
 * grpc.health.v1's descriptor, as a reflection client expects it. protobufjs
 * writes type names relative ("HealthCheckResponse"), which clients such as
 * buf curl cannot resolve, so they are made fully qualified here; and the
 * file gets its canonical name grpc/health/v1/health.proto (the package
 * ships it as grpc_health_v1.proto).
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
    qualifyTypeNames(file);
    return Buffer.from(toBinary(FileDescriptorProtoSchema, file));
  });
}

/** Rewrites relative type names to fully qualified ones, resolving them scope by scope as protoc does. */
function qualifyTypeNames(file: FileDescriptorProto): void {
  const defined = new Set<string>();
  const collect = (scope: string, messages: readonly DescriptorProto[], enums: readonly EnumDescriptorProto[]): void => {
    for (const e of enums) defined.add(`${scope}.${e.name}`);
    for (const m of messages) {
      defined.add(`${scope}.${m.name}`);
      collect(`${scope}.${m.name}`, m.nestedType, m.enumType);
    }
  };
  const root = file.package ? `.${file.package}` : "";
  collect(root, file.messageType, file.enumType);
  const resolve = (scope: string, name: string): string => {
    if (name === "" || name.startsWith(".")) return name;
    for (let at = scope; ; at = at.slice(0, Math.max(0, at.lastIndexOf(".")))) {
      if (defined.has(`${at}.${name}`)) return `${at}.${name}`;
      if (at === "") return `.${name}`;
    }
  };
  const visit = (scope: string, messages: readonly DescriptorProto[]): void => {
    for (const m of messages) {
      const inner = `${scope}.${m.name}`;
      for (const field of m.field) field.typeName = resolve(inner, field.typeName);
      visit(inner, m.nestedType);
    }
  };
  visit(root, file.messageType);
  for (const service of file.service) {
    for (const method of service.method) {
      method.inputType = resolve(root, method.inputType);
      method.outputType = resolve(root, method.outputType);
    }
  }
}
