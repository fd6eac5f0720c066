// One way to make clients: grpc-js channels, the generated descriptors, and
// a deadline on every call (the configured default when the caller gives
// none). The returned object has connect's Client<S> shape, so code calls
// `await client.place({...}, { timeoutMs })` whatever the transport.
import { create, type DescMethod, type DescService } from "@bufbuild/protobuf";
import { ConnectError, type CallOptions, type Client } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import { SpanKind, context as otelContext, propagation, trace } from "@opentelemetry/api";
import { Code, toConnectError } from "./errors.js";
import { deserializerFor, methodPath, serializerFor } from "./grpc-server-adapter.js";
import { drained, readMessages } from "./message-queue.js";
import { channelCredentials } from "./transport-security.js";
import { isTracingEnabled, tracer } from "../telemetry/tracing.js";
import type { Logger } from "pino";
import { followDiscoveryUri, type LoadBalancing } from "./discovery-channel.js";
import type { EndpointResolver } from "../discovery/index.js";

export interface ClientOptions {
  /** Deadline for calls that do not set timeoutMs. Streams get none by default. */
  readonly defaultDeadlineMs?: number;
  readonly maxMessageBytes?: number;
  readonly keepaliveTimeMs?: number;
  readonly keepaliveTimeoutMs?: number;
  /**
   * With a discovery URI as the target: pick_first keeps one connection to
   * the first endpoint that answers (a coordinator), round_robin spreads
   * calls over all of them (balancers). Default pick_first.
   */
  readonly balancing?: LoadBalancing;
  /** Where the discovery of a URI target logs what it finds. */
  readonly logger?: Logger;
}

export type RpcClient<S extends DescService> = Client<S> & {
  readonly address: string;
  /** What the target's discovery currently knows, when the target is a discovery URI. */
  readonly discovery: EndpointResolver | undefined;
  close(): void;
  /** Resolves once the channel is connected, or rejects with UNAVAILABLE naming the address. */
  waitForReady(timeoutMs: number): Promise<void>;
};

let bearerToken: string | undefined;

/**
 * The token every call of this process carries as `authorization: Bearer`
 * (a role token for the CLI; undefined: none). A call's own headers win.
 */
export function useBearerToken(token: string | undefined): void {
  bearerToken = token;
}

export function channelOptions(options: ClientOptions): grpc.ChannelOptions {
  return {
    "grpc.max_send_message_length": options.maxMessageBytes ?? 4 * 1024 * 1024,
    "grpc.max_receive_message_length": options.maxMessageBytes ?? 4 * 1024 * 1024,
    "grpc.keepalive_time_ms": options.keepaliveTimeMs ?? 10_000,
    "grpc.keepalive_timeout_ms": options.keepaliveTimeoutMs ?? 5_000,
    "grpc.keepalive_permit_without_calls": 1,
    // Reconnect quickly after a peer restarts (grpc-js defaults to 1 s..120 s).
    "grpc.initial_reconnect_backoff_ms": 200,
    "grpc.max_reconnect_backoff_ms": 2_000,
  };
}

/**
 * `target` is host:port or a discovery URI (static://, dns+srv://, consul://,
 * etcd://, k8s://); a URI is followed for as long as the client is open, and
 * errors name it.
 */
export function createRpcClient<S extends DescService>(
  service: S,
  target: string,
  options: ClientOptions = {},
): RpcClient<S> {
  const address = target;
  const discovery = isDiscoveryUri(target)
    ? followDiscoveryUri(target, options.logger ? { logger: options.logger } : {})
    : undefined;
  const security = channelCredentials();
  const channel = new grpc.Client(
    discovery?.grpcTarget ?? target.replace(/^static:\/\//, ""),
    security.credentials,
    {
      ...channelOptions(options),
      ...security.options,
      ...(discovery
        ? {
            "grpc.service_config": JSON.stringify({
              loadBalancingConfig: [{ [options.balancing ?? "pick_first"]: {} }],
            }),
          }
        : {}),
    },
  );
  const client: Record<string, unknown> = {
    address,
    discovery: discovery?.resolver,
    close: () => {
      channel.close();
      discovery?.release();
    },
    waitForReady: (timeoutMs: number) =>
      new Promise<void>((resolve, reject) => {
        channel.waitForReady(Date.now() + timeoutMs, (error) => {
          if (error)
            reject(
              new ConnectError(
                `no connection to ${address} within ${timeoutMs} ms: ${error.message}`,
                Code.Unavailable,
              ),
            );
          else resolve();
        });
      }),
  };
  for (const method of service.methods) {
    client[method.localName] = callFor(channel, service, method, address, options);
  }
  return client as RpcClient<S>;
}

/** A single static://host:port needs no resolver: it is used as the plain address. */
function isDiscoveryUri(target: string): boolean {
  return /^[a-z0-9+]+:\/\//.test(target) && !/^static:\/\/[^,?]+$/.test(target);
}

function callFor(
  channel: grpc.Client,
  service: DescService,
  method: DescMethod,
  address: string,
  options: ClientOptions,
) {
  const path = methodPath(service, method);
  const serialize = serializerFor(method.input);
  const deserialize = deserializerFor(method.output);
  const callOptions = (opts: CallOptions | undefined, streaming: boolean): grpc.CallOptions => {
    const timeoutMs =
      opts?.timeoutMs ?? (streaming ? undefined : (options.defaultDeadlineMs ?? 10_000));
    return timeoutMs !== undefined && timeoutMs > 0 ? { deadline: Date.now() + timeoutMs } : {};
  };
  const metadata = (opts: CallOptions | undefined): grpc.Metadata => {
    const md = new grpc.Metadata();
    if (bearerToken) md.set("authorization", `Bearer ${bearerToken}`);
    if (opts?.headers) new Headers(opts.headers).forEach((value, key) => md.set(key, value));
    if (isTracingEnabled()) propagation.inject(otelContext.active(), md, metadataSetter);
    return md;
  };
  const fail = (error: unknown): ConnectError => {
    const status = toConnectError(error);
    // Name the address when the channel itself failed, not when the server refused.
    if (
      status.code === Code.Unavailable &&
      !status.rawMessage.includes(address) &&
      /No connection established|ECONNREFUSED|Connection dropped|Failed to connect|No addresses resolved/i.test(
        status.rawMessage,
      )
    ) {
      return new ConnectError(`${address}: ${status.rawMessage}`, status.code);
    }
    return status;
  };

  switch (method.methodKind) {
    case "unary":
      return (request: unknown, opts?: CallOptions) =>
        withClientSpan(
          service,
          method,
          () =>
            new Promise((resolve, reject) => {
              const call = channel.makeUnaryRequest(
                path,
                serialize,
                deserialize,
                create(method.input, request as never),
                metadata(opts),
                callOptions(opts, false),
                (error, response) => {
                  if (error) reject(fail(error));
                  else resolve(response);
                },
              );
              opts?.signal?.addEventListener("abort", () => call.cancel(), { once: true });
            }),
        );
    case "server_streaming":
      return (request: unknown, opts?: CallOptions) => {
        const call = channel.makeServerStreamRequest(
          path,
          serialize,
          deserialize,
          create(method.input, request as never),
          metadata(opts),
          callOptions(opts, true),
        );
        return streamResponses(call, opts, fail);
      };
    case "client_streaming":
      return (requests: AsyncIterable<unknown>, opts?: CallOptions) =>
        new Promise((resolve, reject) => {
          const call = channel.makeClientStreamRequest(
            path,
            serialize,
            deserialize,
            metadata(opts),
            callOptions(opts, true),
            (error, response) => {
              if (error) reject(fail(error));
              else resolve(response);
            },
          );
          opts?.signal?.addEventListener("abort", () => call.cancel(), { once: true });
          pump(requests, call, method).catch(() => call.cancel());
        });
    case "bidi_streaming":
      return (requests: AsyncIterable<unknown>, opts?: CallOptions) => {
        const call = channel.makeBidiStreamRequest(
          path,
          serialize,
          deserialize,
          metadata(opts),
          callOptions(opts, true),
        );
        pump(requests, call, method).catch(() => call.cancel());
        return streamResponses(call, opts, fail);
      };
  }
}

async function pump(
  requests: AsyncIterable<unknown>,
  call: grpc.ClientWritableStream<unknown>,
  method: DescMethod,
): Promise<void> {
  for await (const request of requests) {
    if (!call.write(create(method.input, request as never))) await drained(call);
  }
  call.end();
}

async function* streamResponses(
  call: grpc.ClientReadableStream<unknown>,
  opts: CallOptions | undefined,
  fail: (error: unknown) => ConnectError,
): AsyncGenerator<unknown> {
  // After the reader stops (or the caller cancels), grpc-js still emits the
  // final CANCELLED status as an 'error' event; without a listener that
  // would be an uncaught exception. Errors that matter reach the reader.
  call.on("error", () => {});
  const abort = new AbortController();
  opts?.signal?.addEventListener("abort", () => abort.abort(), { once: true });
  abort.signal.addEventListener("abort", () => call.cancel(), { once: true });
  try {
    for await (const message of readMessages<unknown>(call, abort.signal)) yield message;
    if (opts?.signal?.aborted) throw new ConnectError("call aborted", Code.Canceled);
  } catch (error) {
    throw fail(error);
  } finally {
    abort.abort();
  }
}

async function withClientSpan<T>(
  service: DescService,
  method: DescMethod,
  work: () => Promise<T>,
): Promise<T> {
  if (!isTracingEnabled()) return work();
  const span = tracer().startSpan(`${service.typeName}/${method.name}`, {
    kind: SpanKind.CLIENT,
    attributes: {
      "rpc.system": "grpc",
      "rpc.service": service.typeName,
      "rpc.method": method.name,
    },
  });
  try {
    return await otelContext.with(trace.setSpan(otelContext.active(), span), work);
  } catch (error) {
    span.setStatus({ code: 2, message: error instanceof Error ? error.message : String(error) });
    throw error;
  } finally {
    span.end();
  }
}

const metadataSetter = {
  set: (carrier: grpc.Metadata, key: string, value: string) => carrier.set(key, value),
};
