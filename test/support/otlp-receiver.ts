// A minimal OTLP/HTTP trace receiver for tests: collects every span of a JSON
// export with the service.name of the resource that sent it, and counts the
// protobuf exports it is sent (their bytes kept, not decoded). `env` points a
// service at it in JSON, for tests that read the spans. Times are kept as the
// exporter sent them (nanoseconds since the epoch), for trace trees.
import { createServer, type Server } from "node:http";

export interface ReceivedSpan {
  readonly service: string;
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string;
  readonly name: string;
  /** OTLP SpanKind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  readonly kind: number;
  readonly startTimeUnixNano: bigint;
  readonly endTimeUnixNano: bigint;
}

interface OtlpAttribute {
  key: string;
  value: { stringValue?: string };
}

interface OtlpExport {
  resourceSpans?: {
    resource?: { attributes?: OtlpAttribute[] };
    scopeSpans?: {
      spans?: {
        traceId: string;
        spanId: string;
        parentSpanId?: string;
        name: string;
        kind?: number;
        // OTLP/JSON writes 64-bit integers as decimal strings; numbers are accepted too.
        startTimeUnixNano?: string | number;
        endTimeUnixNano?: string | number;
      }[];
    }[];
  }[];
}

export async function startOtlpReceiver(): Promise<{
  endpoint: string;
  /** OTEL_EXPORTER_OTLP_ENDPOINT and OTEL_EXPORTER_OTLP_PROTOCOL (http/json). */
  env: Record<string, string>;
  spans: ReceivedSpan[];
  /** The bodies of the protobuf exports received. */
  protobufExports: Buffer[];
  close(): Promise<void>;
}> {
  const spans: ReceivedSpan[] = [];
  const protobufExports: Buffer[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const isProtobuf = request.headers["content-type"] === "application/x-protobuf";
      if (request.url === "/v1/traces" && isProtobuf) protobufExports.push(Buffer.concat(chunks));
      else if (request.url === "/v1/traces") {
        const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as OtlpExport;
        for (const resourceSpans of body.resourceSpans ?? []) {
          const service =
            resourceSpans.resource?.attributes?.find((a) => a.key === "service.name")?.value
              .stringValue ?? "";
          for (const scope of resourceSpans.scopeSpans ?? []) {
            for (const span of scope.spans ?? [])
              spans.push({
                service,
                traceId: span.traceId,
                spanId: span.spanId,
                parentSpanId: span.parentSpanId ?? "",
                name: span.name,
                kind: span.kind ?? 0,
                startTimeUnixNano: BigInt(span.startTimeUnixNano ?? 0),
                endTimeUnixNano: BigInt(span.endTimeUnixNano ?? 0),
              });
          }
        }
      }
      // An empty ExportTraceServiceResponse in either encoding.
      response.writeHead(200, {
        "content-type": isProtobuf ? "application/x-protobuf" : "application/json",
      });
      response.end(isProtobuf ? "" : "{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: "http/json" },
    spans,
    protobufExports,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
