import { EventEmitter } from "node:events";
import * as grpc from "@grpc/grpc-js";
import { describe, expect, it, vi } from "vitest";
import { Balancer } from "../contracts/index.js";
import { CallContext } from "./call-context.js";
import { Code, ConnectError } from "./errors.js";

/** A grpc-js server call as far as the context reads it. */
function fakeCall(options: { deadline?: grpc.Deadline; cancelled?: boolean } = {}) {
  const emitter = new EventEmitter();
  const metadata = new grpc.Metadata();
  metadata.set("x-client", "bench");
  return Object.assign(emitter, {
    cancelled: options.cancelled ?? false,
    metadata,
    getDeadline: () => options.deadline ?? Infinity,
  });
}

const method = Balancer.method.assign;

function contextFor(call: ReturnType<typeof fakeCall>, shutdown = new AbortController()) {
  return new CallContext(Balancer, method, "/x", call, shutdown.signal);
}

describe("CallContext", () => {
  it("listens to nothing until its signal is read", () => {
    const call = fakeCall();
    const shutdown = new AbortController();
    const ctx = contextFor(call, shutdown);
    expect(call.listenerCount("cancelled")).toBe(0);
    ctx.finish();
    void ctx.signal;
    expect(call.listenerCount("cancelled")).toBe(1);
  });

  it("aborts its signal when the client cancels", () => {
    const call = fakeCall();
    const ctx = contextFor(call);
    const signal = ctx.signal;
    expect(signal.aborted).toBe(false);
    call.emit("cancelled");
    expect(signal.aborted).toBe(true);
    expect((signal.reason as Error).message).toBe("cancelled by the client");
  });

  it("is aborted at once when read after the client already cancelled", () => {
    const ctx = contextFor(fakeCall({ cancelled: true }));
    expect(ctx.signal.aborted).toBe(true);
  });

  it("aborts with DEADLINE_EXCEEDED when the call's deadline passes", () => {
    vi.useFakeTimers();
    try {
      const ctx = contextFor(fakeCall({ deadline: Date.now() + 50 }));
      expect(ctx.timeoutMs()).toBe(50);
      const signal = ctx.signal;
      vi.advanceTimersByTime(49);
      expect(signal.aborted).toBe(false);
      vi.advanceTimersByTime(1);
      expect(signal.aborted).toBe(true);
      expect((signal.reason as ConnectError).code).toBe(Code.DeadlineExceeded);
    } finally {
      vi.useRealTimers();
    }
  });

  it("follows the server's shutdown and lets go of it when the call finishes", () => {
    const shutdown = new AbortController();
    const ctx = contextFor(fakeCall(), shutdown);
    const signal = ctx.signal;
    shutdown.abort(new ConnectError("server shutting down", Code.Unavailable));
    expect((signal.reason as ConnectError).code).toBe(Code.Unavailable);

    const second = new AbortController();
    const other = contextFor(fakeCall(), second);
    const otherSignal = other.signal;
    other.finish();
    expect(otherSignal.aborted).toBe(true);
    second.abort(new Error("later"));
    expect((otherSignal.reason as Error).message).toBe("the call has finished");
  });

  it("has no deadline when the client set none, and reads headers from the metadata", () => {
    const ctx = contextFor(fakeCall());
    expect(ctx.timeoutMs()).toBeUndefined();
    expect(ctx.requestHeader.get("x-client")).toBe("bench");
    expect(ctx.responseHeader).toBe(ctx.responseHeader);
  });
});
