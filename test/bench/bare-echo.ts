// The reference for every RPC figure in the bench: Balancer/Assign served by
// a bare @grpc/grpc-js server, written as a user with no framework would
// write it. No reflection, no health, no metrics, no context; a minimal codec
// that reads the request's task_id by hand and writes the answer by hand
// (the same wire bytes protobuf-es would produce). `--heartbeats` serves the
// other baseline instead: a server that receives one message a second from
// every worker on its own bidi stream and does nothing else.
import * as grpc from "@grpc/grpc-js";

const TASK_STATE_ASSIGNED = 2;

/** Reads a protobuf varint at `offset`: [value, next offset]. */
function varint(bytes: Buffer, offset: number): [number, number] {
  let value = 0;
  let shift = 0;
  let at = offset;
  for (;;) {
    const byte = bytes[at++] ?? 0;
    value += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80 || at >= bytes.length) return [value, at];
    shift += 7;
  }
}

/** The bytes of a length-delimited field `field` of `message`, if present. */
function lengthDelimited(message: Buffer, field: number): Buffer | undefined {
  let at = 0;
  while (at < message.length) {
    const [key, afterKey] = varint(message, at);
    const wireType = key & 7;
    at = afterKey;
    if (wireType === 0) [, at] = varint(message, at);
    else if (wireType === 2) {
      const [length, start] = varint(message, at);
      if (key >>> 3 === field) return message.subarray(start, start + length);
      at = start + length;
    } else if (wireType === 1) at += 8;
    else if (wireType === 5) at += 4;
    else return undefined;
  }
  return undefined;
}

function encodeAssignResponse(taskId: Buffer): Buffer {
  // task_id = 1 (string), attempt = 4 (varint 1), state = 5 (varint ASSIGNED)
  return Buffer.concat([
    Buffer.from([0x0a, taskId.length]),
    taskId,
    Buffer.from([0x20, 1, 0x28, TASK_STATE_ASSIGNED]),
  ]);
}

const ECHO = Buffer.from("echo");

const assignDefinition: grpc.ServiceDefinition = {
  assign: {
    path: "/scalemesh.v1.Balancer/Assign",
    requestStream: false,
    responseStream: false,
    requestSerialize: (value: Buffer) => value,
    requestDeserialize: (bytes: Buffer) => bytes,
    responseSerialize: (value: Buffer) => value,
    responseDeserialize: (bytes: Buffer) => bytes,
  },
};

const heartbeatDefinition: grpc.ServiceDefinition = {
  session: {
    path: "/scalemesh.v1.Coordinator/WorkerSession",
    requestStream: true,
    responseStream: true,
    requestSerialize: (value: Buffer) => value,
    requestDeserialize: (bytes: Buffer) => bytes,
    responseSerialize: (value: Buffer) => value,
    responseDeserialize: (bytes: Buffer) => bytes,
  },
};

const server = new grpc.Server();
if (process.argv.includes("--heartbeats")) {
  let received = 0;
  server.addService(heartbeatDefinition, {
    session: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      call.on("data", () => {
        received += 1;
      });
      call.on("end", () => call.end());
      call.on("error", () => undefined);
    },
  });
  setInterval(
    () => process.stdout.write(`${JSON.stringify({ msg: "received", received })}\n`),
    1000,
  ).unref();
} else {
  server.addService(assignDefinition, {
    assign: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
      const task = lengthDelimited(call.request, 1);
      const taskId = task ? lengthDelimited(task, 1) : undefined;
      callback(
        null,
        encodeAssignResponse(taskId && taskId.length > 0 && taskId.length < 128 ? taskId : ECHO),
      );
    },
  });
}
server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, port) => {
  if (error) {
    process.stderr.write(`bare echo cannot listen: ${error.message}\n`);
    process.exit(1);
  }
  // One JSON line, as the services log it, so the bench starts this the same way.
  process.stdout.write(`${JSON.stringify({ msg: "bare listening", grpcPort: port })}\n`);
});
for (const signal of ["SIGTERM", "SIGINT"] as const)
  process.on(signal, () => server.tryShutdown(() => process.exit(0)));
