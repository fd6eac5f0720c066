// The wire contracts, generated from proto/scalemesh/v1 (see buf.gen.yaml).
export * from "./gen/scalemesh/v1/types_pb.js";
export * from "./gen/scalemesh/v1/coordinator_pb.js";
export * from "./gen/scalemesh/v1/admin_pb.js";
export * from "./gen/scalemesh/v1/balancer_pb.js";
export * from "./gen/scalemesh/v1/optimizer_pb.js";
export * from "./gen/scalemesh/v1/leases_pb.js";
export * from "./validate-task-spec.js";
