// The HandlerContext a method implementation sees, made for one grpc-js call
// and paid for only as far as it is used. A unary call that never reads its
// signal or headers costs one small object: the abort signal (linked to the
// client's cancel, the call's deadline and the server's shutdown), the
// request headers and the context values are built on first access. The
// profile showed connect's createHandlerContext spending a quarter of an echo
// call on AbortControllers, DOMExceptions and Headers copies nobody read.
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { createContextValues, type ContextValues, type HandlerContext } from "@connectrpc/connect";
import type { PeerCertificate } from "node:tls";
import type * as grpc from "@grpc/grpc-js";
import { Code, ConnectError } from "./errors.js";
import { PEER_CERTIFICATE_NAMES, certificateNames } from "./peer-certificate.js";
import { currentTls } from "./transport-security.js";

type CancellableCall = {
  readonly cancelled: boolean;
  readonly metadata: grpc.Metadata;
  getDeadline(): grpc.Deadline;
  getAuthContext?(): { sslPeerCertificate?: PeerCertificate } | null;
  on(event: "cancelled", listener: () => void): unknown;
};

const CALL_FINISHED = new Error("the call has finished");

/**
 * The calls listening to each server's shutdown signal, called from one
 * listener of its own: an EventTarget checks every listener it holds for a
 * duplicate on each add, so 10,000 open sessions adding one each cost
 * O(sessions²) (the profile of 5,000 workers joining showed 1.7 s in it).
 */
const shutdownListeners = new WeakMap<AbortSignal, Set<() => void>>();

function onShutdown(signal: AbortSignal, listener: () => void): () => void {
  let listeners = shutdownListeners.get(signal);
  if (!listeners) {
    const created = new Set<() => void>();
    listeners = created;
    shutdownListeners.set(signal, created);
    signal.addEventListener(
      "abort",
      () => {
        for (const notify of [...created]) notify();
        created.clear();
      },
      { once: true },
    );
  }
  const registered = listeners;
  registered.add(listener);
  return () => void registered.delete(listener);
}

export class CallContext implements HandlerContext {
  readonly protocolName = "grpc";
  readonly requestMethod = "POST";
  private controller: AbortController | undefined;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private unlinkShutdown: (() => void) | undefined;
  private headers: Headers | undefined;
  private contextValues: ContextValues | undefined;
  private responseHeaders: Headers | undefined;
  private responseTrailers: Headers | undefined;
  private readonly deadlineAtMs: number | undefined;

  constructor(
    readonly service: DescService,
    readonly method: DescMethod,
    readonly url: string,
    private readonly call: CancellableCall,
    private readonly shutdownSignal: AbortSignal,
  ) {
    const deadline = call.getDeadline();
    const deadlineMs = deadline instanceof Date ? deadline.getTime() : deadline;
    this.deadlineAtMs = Number.isFinite(deadlineMs) ? deadlineMs : undefined;
  }

  readonly timeoutMs = (): number | undefined =>
    this.deadlineAtMs === undefined ? undefined : Math.max(0, this.deadlineAtMs - Date.now());

  get signal(): AbortSignal {
    if (this.controller) return this.controller.signal;
    const controller = new AbortController();
    this.controller = controller;
    const abort = (reason: unknown): void => {
      if (!controller.signal.aborted) controller.abort(reason);
    };
    if (this.call.cancelled) abort(new Error("cancelled by the client"));
    else this.call.on("cancelled", () => abort(new Error("cancelled by the client")));
    if (this.shutdownSignal.aborted) abort(this.shutdownSignal.reason);
    else
      this.unlinkShutdown = onShutdown(this.shutdownSignal, () =>
        abort(this.shutdownSignal.reason),
      );
    const left = this.timeoutMs();
    if (left !== undefined) {
      this.deadlineTimer = setTimeout(
        () => abort(new ConnectError("the operation timed out", Code.DeadlineExceeded)),
        left,
      );
    }
    return controller.signal;
  }

  get requestHeader(): Headers {
    if (this.headers) return this.headers;
    const headers = new Headers();
    for (const [key, value] of Object.entries(this.call.metadata.getMap()))
      if (typeof value === "string") headers.set(key, value);
    this.headers = headers;
    return headers;
  }

  get responseHeader(): Headers {
    this.responseHeaders ??= new Headers();
    return this.responseHeaders;
  }

  get responseTrailer(): Headers {
    this.responseTrailers ??= new Headers();
    return this.responseTrailers;
  }

  /** With PEER_CERTIFICATE_NAMES set when the port requires client certificates (so this one was checked). */
  get values(): ContextValues {
    if (this.contextValues) return this.contextValues;
    const values = createContextValues();
    if (currentTls()?.requireClientCert)
      values.set(
        PEER_CERTIFICATE_NAMES,
        certificateNames(this.call.getAuthContext?.()?.sslPeerCertificate),
      );
    this.contextValues = values;
    return values;
  }

  /** The call is over: whatever still listens on the signal is told, timers and links released. */
  finish(): void {
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    this.unlinkShutdown?.();
    if (this.controller && !this.controller.signal.aborted) this.controller.abort(CALL_FINISHED);
  }
}
