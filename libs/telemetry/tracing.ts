// OpenTelemetry for every service. Spans are made by libs/rpc around each
// call (no monkey-patching instrumentation, so nothing depends on ESM loader
// hooks and nothing costs anything when tracing is off). Traces are exported
// over OTLP/HTTP only when OTEL_EXPORTER_OTLP_ENDPOINT is set; without it the
// SDK, the exporter and their dependencies are never even loaded (only the
// API, whose calls are no-ops).
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
  const [{ OTLPTraceExporter }, { resourceFromAttributes }, { NodeSDK }, sdkTrace, conventions] =
    await Promise.all([
      import("@opentelemetry/exporter-trace-otlp-http"),
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
