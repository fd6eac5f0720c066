// Serves a ServiceImpl written against the generated descriptors (connect's
// shape) on a grpc-js server: protobuf-es toBinary/fromBinary as the codec,
// one span and one metric per call, every error mapped to a status.
import {
  create,
  fromBinary,
  toBinary,
  type DescMessage,
  type DescMethod,
  type DescService,
} from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { SpanKind, context as otelContext, propagation, trace } from "@opentelemetry/api";
import type * as grpc from "@grpc/grpc-js";
import type { Logger } from "pino";
import { CallContext } from "./call-context.js";
import { Code, toConnectError, toGrpcStatus } from "./errors.js";
import { readMessages, writeWithBackpressure } from "./message-queue.js";
import { isTracingEnabled, tracer } from "../telemetry/tracing.js";
import { rpcHandled, rpcHandlingSeconds } from "../telemetry/metrics.js";

type AnyImpl = (...args: never[]) => unknown;

export interface AdaptedService {
  readonly definition: grpc.ServiceDefinition;
  readonly handlers: grpc.UntypedServiceImplementation;
}

export function serializerFor(schema: DescMessage): (value: unknown) => Buffer {
  return (value) => {
    // A message already of this type is encoded as it is; an init shape is made one first.
    const message =
      (value as { $typeName?: string }).$typeName === schema.typeName
        ? value
        : create(schema, value as never);
    const bytes = toBinary(schema, message as never);
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
}

export function deserializerFor(schema: DescMessage): (bytes: Buffer) => unknown {
  return (bytes) => fromBinary(schema, bytes);
}

export function methodPath(service: DescService, method: DescMethod): string {
  return `/${service.typeName}/${method.name}`;
}

/** The grpc-js service definition for a generated service descriptor. */
export function grpcServiceDefinition(service: DescService): grpc.ServiceDefinition {
  const definition: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const method of service.methods) {
    definition[method.localName] = {
      path: methodPath(service, method),
      requestStream:
        method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming",
      responseStream:
        method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming",
      requestSerialize: serializerFor(method.input),
      requestDeserialize: deserializerFor(method.input),
      responseSerialize: serializerFor(method.output),
      responseDeserialize: deserializerFor(method.output),
      originalName: method.name,
    };
  }
  return definition;
}

/**
 * Counts this server's own calls in progress, so shutdown knows when they are
 * done, and per connection (`peer`), so one connection cannot hold them all:
 * `started` throws a status when the call may not begin.
 */
export interface CallTracker {
  started(peer: string): void;
  finished(peer: string): void;
}

export function adaptService<S extends DescService>(
  service: S,
  impl: Partial<ServiceImpl<S>>,
  logger: Logger,
  shutdownSignal: AbortSignal,
  tracker: CallTracker,
): AdaptedService {
  const handlers: grpc.UntypedServiceImplementation = {};
  const implementations = impl as Record<string, AnyImpl | undefined>;
  for (const method of service.methods) {
    const methodImpl = implementations[method.localName];
    if (!methodImpl) continue;
    handlers[method.localName] = adaptMethod(
      service,
      method,
      methodImpl,
      logger,
      shutdownSignal,
      tracker,
    );
  }
  return { definition: grpcServiceDefinition(service), handlers };
}

type AnyServerCall =
  | grpc.ServerUnaryCall<unknown, unknown>
  | grpc.ServerReadableStream<unknown, unknown>
  | grpc.ServerWritableStream<unknown, unknown>
  | grpc.ServerDuplexStream<unknown, unknown>;

function adaptMethod(
  service: DescService,
  method: DescMethod,
  methodImpl: AnyImpl,
  logger: Logger,
  shutdownSignal: AbortSignal,
  tracker: CallTracker,
): grpc.UntypedHandleCall {
  const url = methodPath(service, method);
  // Metric children bound once per method (and per code): no label checks per call.
  const handledByCode = new Map<Code | 0, { inc(): void }>();
  const handled = (code: Code | 0): { inc(): void } => {
    let child = handledByCode.get(code);
    if (!child) {
      child = rpcHandled.labels(service.typeName, method.name, Code[code as Code] ?? "OK");
      handledByCode.set(code, child);
    }
    return child;
  };
  const handlingSeconds = rpcHandlingSeconds.labels(service.typeName, method.name);
  const run = async (
    call: AnyServerCall,
    body: (ctx: HandlerContext) => Promise<void>,
  ): Promise<void> => {
    const peer = call.getPeer();
    try {
      tracker.started(peer);
    } catch (refusal) {
      handled(toConnectError(refusal).code).inc();
      throw refusal;
    }
    const ctx = new CallContext(service, method, url, call, shutdownSignal);
    const parent = isTracingEnabled()
      ? propagation.extract(otelContext.active(), call.metadata.getMap(), metadataGetter)
      : undefined;
    const span = parent
      ? tracer().startSpan(
          `${service.typeName}/${method.name}`,
          {
            kind: SpanKind.SERVER,
            attributes: {
              "rpc.system": "grpc",
              "rpc.service": service.typeName,
              "rpc.method": method.name,
            },
          },
          parent,
        )
      : undefined;
    const started = process.hrtime.bigint();
    let code: Code | 0 = 0;
    try {
      if (span && parent) await otelContext.with(trace.setSpan(parent, span), () => body(ctx));
      else await body(ctx);
    } catch (error) {
      const status = toConnectError(error);
      code = status.code;
      if (status.code === Code.Internal)
        logger.error({ err: error, method: method.name }, "handler failed");
      span?.setStatus({ code: 2, message: status.rawMessage });
      throw status;
    } finally {
      tracker.finished(peer);
      ctx.finish();
      span?.setAttribute("rpc.grpc.status_code", code);
      span?.end();
      handled(code).inc();
      if (method.methodKind === "unary")
        handlingSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
    }
  };

  switch (method.methodKind) {
    case "unary":
      return (
        call: grpc.ServerUnaryCall<unknown, unknown>,
        callback: grpc.sendUnaryData<unknown>,
      ) => {
        let response: unknown;
        run(call, async (ctx) => {
          response = await methodImpl(call.request as never, ctx as never);
        }).then(
          () => callback(null, response),
          (error) => callback(toGrpcStatus(toConnectError(error))),
        );
      };
    case "server_streaming":
      return (call: grpc.ServerWritableStream<unknown, unknown>) => {
        run(call, async (ctx) => {
          const responses = methodImpl(
            call.request as never,
            ctx as never,
          ) as AsyncIterable<unknown>;
          for await (const response of responses) await writeWithBackpressure(call, response);
        }).then(
          () => call.end(),
          (error) => call.emit("error", toGrpcStatus(toConnectError(error))),
        );
      };
    case "client_streaming":
      return (
        call: grpc.ServerReadableStream<unknown, unknown>,
        callback: grpc.sendUnaryData<unknown>,
      ) => {
        let response: unknown;
        run(call, async (ctx) => {
          response = await methodImpl(readMessages(call, ctx.signal) as never, ctx as never);
        }).then(
          () => callback(null, response),
          (error) => callback(toGrpcStatus(toConnectError(error))),
        );
      };
    case "bidi_streaming":
      return (call: grpc.ServerDuplexStream<unknown, unknown>) => {
        run(call, async (ctx) => {
          const responses = methodImpl(
            readMessages(call, ctx.signal) as never,
            ctx as never,
          ) as AsyncIterable<unknown>;
          for await (const response of responses) await writeWithBackpressure(call, response);
        }).then(
          () => call.end(),
          (error) => call.emit("error", toGrpcStatus(toConnectError(error))),
        );
      };
  }
}

const metadataGetter = {
  keys: (carrier: Record<string, unknown>) => Object.keys(carrier),
  get: (carrier: Record<string, unknown>, key: string) => {
    const value = carrier[key];
    return typeof value === "string" ? value : undefined;
  },
};
