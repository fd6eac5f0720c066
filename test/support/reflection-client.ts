// A client of the gRPC server reflection service, as grpcurl uses it: list
// the services, then fetch the file that defines a symbol with its imports.
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

type ReflectionVersion = "v1" | "v1alpha";

interface ReflectionResponse {
  listServicesResponse?: { service: { name: string }[] };
  fileDescriptorResponse?: { fileDescriptorProto: Buffer[] };
  errorResponse?: { errorCode: number; errorMessage: string };
}

interface ReflectionStream {
  write(request: Record<string, unknown>): void;
  end(): void;
  on(event: "data", listener: (response: ReflectionResponse) => void): void;
  on(event: "error", listener: (error: Error) => void): void;
}

const require = createRequire(import.meta.url);

export function createReflectionClient(address: string, version: ReflectionVersion) {
  const protoPath = join(
    dirname(require.resolve("@grpc/reflection/package.json")),
    "build",
    "proto",
    "grpc",
    "reflection",
    version,
    "reflection.proto",
  );
  const loaded = grpc.loadPackageDefinition(
    protoLoader.loadSync(protoPath, { longs: String, defaults: true, oneofs: true }),
  ) as unknown as {
    grpc: {
      reflection: Record<
        ReflectionVersion,
        {
          ServerReflection: new (
            address: string,
            credentials: grpc.ChannelCredentials,
          ) => grpc.Client & { ServerReflectionInfo(): ReflectionStream };
        }
      >;
    };
  };
  const client = new loaded.grpc.reflection[version].ServerReflection(
    address,
    grpc.credentials.createInsecure(),
  );
  const ask = (request: Record<string, unknown>): Promise<ReflectionResponse> =>
    new Promise((resolve, reject) => {
      const stream = client.ServerReflectionInfo();
      stream.on("data", (response) => {
        resolve(response);
        stream.end();
      });
      stream.on("error", reject);
      stream.write(request);
    });
  return {
    async listServices(): Promise<string[]> {
      const response = await ask({ listServices: "*" });
      return (response.listServicesResponse?.service ?? []).map((s) => s.name);
    },
    async fileContainingSymbol(symbol: string): Promise<Uint8Array[]> {
      const response = await ask({ fileContainingSymbol: symbol });
      if (response.errorResponse)
        throw new Error(`reflection: ${response.errorResponse.errorMessage}`);
      return (response.fileDescriptorResponse?.fileDescriptorProto ?? []).map(
        (b) => new Uint8Array(b),
      );
    },
    async fileByFilename(name: string): Promise<Uint8Array[]> {
      const response = await ask({ fileByFilename: name });
      if (response.errorResponse)
        throw new Error(`reflection: ${response.errorResponse.errorMessage}`);
      return (response.fileDescriptorResponse?.fileDescriptorProto ?? []).map(
        (b) => new Uint8Array(b),
      );
    },
    close: () => client.close(),
  };
}
