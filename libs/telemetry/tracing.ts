// OpenTelemetry for every service. Spans are made by libs/rpc around each
// call (no monkey-patching instrumentation, so nothing depends on ESM loader
// hooks and nothing costs anything when tracing is off). Traces are exported
// over OTLP/HTTP only when OTEL_EXPORTER_OTLP_ENDPOINT is set; without it the
// SDK, the exporter and their dependencies are never even loaded (only the
// API, whose calls are no-ops). OTEL_EXPORTER_OTLP_PROTOCOL picks the
// encoding: http/protobuf (the OpenTelemetry default, and the cheaper one) or
// http/json.
import {
  context,
  propagation,
  trace,
  type Context,
  type Span,
  type Tracer,
} from "@opentelemetry/api";

export interface TelemetryOptions {
  readonly serviceName: string;
  readonly serviceVersion: string;
  /** Parent-based sampling ratio for new traces, 0..1. */
  readonly sampleRatio: number;
  readonly env?: NodeJS.ProcessEnv;
}

export interface Telemetry {
  readonly isTracing: boolean;
  shutdown(): Promise<void>;
}

let tracingOn = false;

/** Whether spans are being recorded in this process (libs/rpc skips the work otherwise). */
export function isTracingEnabled(): boolean {
  return tracingOn;
}

export async function startTelemetry(options: TelemetryOptions): Promise<Telemetry> {
  const env = options.env ?? process.env;
  const endpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT ?? env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  if (!endpoint) return { isTracing: false, shutdown: async () => {} };
  const protocol = otlpProtocolOf(env);
  const [{ OTLPTraceExporter }, { resourceFromAttributes }, { NodeSDK }, sdkTrace, conventions] =
    await Promise.all([
      protocol === "http/json"
        ? import("@opentelemetry/exporter-trace-otlp-http")
        : import("@opentelemetry/exporter-trace-otlp-proto"),
      import("@opentelemetry/resources"),
      import("@opentelemetry/sdk-node"),
      import("@opentelemetry/sdk-trace-base"),
      import("@opentelemetry/semantic-conventions"),
    ]);
  const { BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler } = sdkTrace;
  const { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } = conventions;
  // Without these the Node SDK adds metric and log exporters aimed at :4318.
  env.OTEL_METRICS_EXPORTER ??= "none";
  env.OTEL_LOGS_EXPORTER ??= "none";
  const sdk = new NodeSDK({
    resource: resourceFromAttributes({
      [ATTR_SERVICE_NAME]: options.serviceName,
      [ATTR_SERVICE_VERSION]: options.serviceVersion,
    }),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(options.sampleRatio) }),
    spanProcessors: [
      new BatchSpanProcessor(new OTLPTraceExporter(), { scheduledDelayMillis: 500 }),
    ],
    instrumentations: [],
  });
  sdk.start();
  tracingOn = true;
  return {
    isTracing: true,
    shutdown: async () => {
      tracingOn = false;
      await sdk.shutdown();
    },
  };
}

export const OTLP_PROTOCOLS = ["http/protobuf", "http/json"] as const;
export type OtlpProtocol = (typeof OTLP_PROTOCOLS)[number];

/**
 * The trace exporter's encoding from OTEL_EXPORTER_OTLP_TRACES_PROTOCOL or
 * OTEL_EXPORTER_OTLP_PROTOCOL (http/protobuf when neither is set). Throws an
 * error naming the variable for anything else (grpc is not shipped).
 */
export function otlpProtocolOf(env: NodeJS.ProcessEnv): OtlpProtocol {
  const name = env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL
    ? "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
    : "OTEL_EXPORTER_OTLP_PROTOCOL";
  const value = env[name] || "http/protobuf";
  if ((OTLP_PROTOCOLS as readonly string[]).includes(value)) return value as OtlpProtocol;
  throw new TelemetrySettingError(
    `${name}: "${value}" is not supported; use ${OTLP_PROTOCOLS.join(" or ")} (the default is http/protobuf)`,
  );
}

/**
 * startTelemetry for a service's main: a bad OTEL_* setting is the user's to
 * fix, so it exits with code 2 and the message instead of a stack trace.
 */
export async function startTelemetryOrExit(options: TelemetryOptions): Promise<Telemetry> {
  try {
    return await startTelemetry(options);
  } catch (error) {
    if (!(error instanceof TelemetrySettingError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
}

/** An OTEL_* variable has a value scalemesh cannot use; the message names it. */
export class TelemetrySettingError extends Error {
  override readonly name = "TelemetrySettingError";
}

export function tracer(): Tracer {
  return trace.getTracer("scalemesh");
}

/** W3C trace context of `ctx` (traceparent, tracestate) as a plain map, for messages. */
export function traceContextOf(ctx: Context = context.active()): Record<string, string> {
  const carrier: Record<string, string> = {};
  if (tracingOn) propagation.inject(ctx, carrier);
  return carrier;
}

/** The context a message's trace context map describes. */
export function contextFrom(
  carrier: Readonly<Record<string, string>>,
  parent: Context = context.active(),
): Context {
  return propagation.extract(parent, carrier);
}

/** Runs `work` inside a new span; the span ends with its outcome. */
export async function inSpan<T>(
  name: string,
  options: { parent?: Context; attributes?: Record<string, string | number | boolean> },
  work: (span: Span | undefined) => Promise<T>,
): Promise<T> {
  if (!tracingOn) return work(undefined);
  const parent = options.parent ?? context.active();
  const span = tracer().startSpan(name, { attributes: options.attributes }, parent);
  try {
    return await context.with(trace.setSpan(parent, span), () => work(span));
  } catch (error) {
    span.recordException(error instanceof Error ? error : String(error));
    span.setStatus({ code: 2, message: error instanceof Error ? error.message : String(error) });
    throw error;
  } finally {
    span.end();
  }
}
