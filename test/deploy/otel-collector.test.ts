// deploy/otel/collector.yaml and its place in deploy/compose.yaml, checked
// without a collector (no collector binary installs here): the config against
// the documented settings and pipeline rules of the components it names, and
// the compose wiring against what the services really send. What a running
// collector would add (values accepted, ports bound, spans forwarded to
// Jaeger) is not proven here.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse, parseDocument, type Document } from "yaml";
import { otlpProtocolOf } from "../../libs/telemetry/tracing.js";
import { projectRoot } from "../../libs/telemetry/version.js";
import { checkCollectorConfig, envReferences } from "../support/collector-config-check.js";

const collectorText = readFileSync(join(projectRoot(), "deploy", "otel", "collector.yaml"), "utf8");
const collector = parse(collectorText) as Record<string, unknown>;

interface ComposeService {
  build?: unknown;
  image?: string;
  command?: string[];
  volumes?: string[];
  environment?: Record<string, string>;
  ports?: string[];
}
const compose = parse(readFileSync(join(projectRoot(), "deploy", "compose.yaml"), "utf8")) as {
  services: Record<string, ComposeService>;
};

/** A fresh copy of the real config with one change, for the checker's negative cases. */
function changed(edit: (config: Document) => void): Record<string, unknown> {
  const copy = parseDocument(collectorText);
  edit(copy);
  return copy.toJS() as Record<string, unknown>;
}

const TRACES = ["service", "pipelines", "traces"];

/** A property path read from parsed YAML. */
function at(value: unknown, ...path: string[]): unknown {
  return path.reduce<unknown>((v, key) => (v as Record<string, unknown> | undefined)?.[key], value);
}

describe("OpenTelemetry collector config", () => {
  it("uses only documented components and settings in pipelines the collector accepts", () => {
    expect(checkCollectorConfig(collector)).toEqual([]);
  });

  // The checker is only worth its silence if it speaks up: each case breaks
  // the real config in one way the collector (or a component's README) objects to.
  it.each([
    {
      name: "a misspelt setting",
      edit: (c: Document) => c.setIn(["processors", "memory_limiter", "limit_percent"], 80),
      problem: /processors\.memory_limiter\.limit_percent: not a documented setting/,
    },
    {
      name: "a pipeline naming an undefined exporter",
      edit: (c: Document) => c.addIn([...TRACES, "exporters"], "otlp_grpc/tempo"),
      problem: /"otlp_grpc\/tempo" is not defined in exporters/,
    },
    {
      name: "the prometheus exporter in the traces pipeline",
      edit: (c: Document) => c.addIn([...TRACES, "exporters"], "prometheus"),
      problem: /pipelines\.traces\.exporters: "prometheus" does not support traces/,
    },
    {
      name: "batch before memory_limiter",
      edit: (c: Document) => c.setIn([...TRACES, "processors"], ["batch", "memory_limiter"]),
      problem: /memory_limiter should come first/,
    },
    {
      name: "the connector on one side only",
      edit: (c: Document) => c.setIn(["service", "pipelines", "metrics", "receivers"], ["otlp"]),
      problem: /connectors\.spanmetrics: used on one side only/,
    },
    {
      name: "the deprecated otlp exporter name",
      edit: (c: Document) => {
        c.setIn(["exporters", "otlp"], c.getIn(["exporters", "otlp_grpc/trace_backend"]));
        c.deleteIn(["exporters", "otlp_grpc/trace_backend"]);
        c.setIn([...TRACES, "exporters"], ["otlp", "spanmetrics"]);
      },
      problem: /exporters\.otlp: "otlp" is deprecated, use "otlp_grpc"/,
    },
    {
      name: "a component no pipeline uses",
      edit: (c: Document) => c.setIn(["processors", "batch/unused"], {}),
      problem: /processors\.batch\/unused: defined but in no pipeline/,
    },
  ])("reports $name", ({ edit, problem }) => {
    const problems = checkCollectorConfig(changed(edit));
    expect(
      problems.some((p) => problem.test(p)),
      problems.join("; "),
    ).toBe(true);
  });

  it("receives OTLP on gRPC 4317 and HTTP 4318 from other containers, not only localhost", () => {
    const protocols = at(collector, "receivers", "otlp", "protocols");
    expect(at(protocols, "grpc", "endpoint")).toBe("0.0.0.0:4317");
    expect(at(protocols, "http", "endpoint")).toBe("0.0.0.0:4318");
    expect(at(collector, "exporters", "prometheus", "endpoint")).toBe("0.0.0.0:8889");
  });

  it("sends traces to a backend named by an environment variable, with Jaeger as the default", () => {
    const { variables, unrecognised } = envReferences(collectorText);
    expect(unrecognised).toEqual([]);
    expect(at(collector, "exporters", "otlp_grpc/trace_backend", "endpoint")).toBe(
      "${env:TRACE_BACKEND_OTLP_ENDPOINT:-jaeger:4317}",
    );
    expect([...variables]).toEqual([["TRACE_BACKEND_OTLP_ENDPOINT", "jaeger:4317"]]);
  });
});

describe("compose wiring of the collector", () => {
  const collectorService = compose.services["otel-collector"];
  const scalemeshServices = Object.entries(compose.services).filter(([, s]) => s.build);

  it("mounts deploy/otel/collector.yaml where the collector is told to read it", () => {
    const configFlag = collectorService?.command?.find((arg) => arg.startsWith("--config="));
    const mountedAt = collectorService?.volumes
      ?.find((v) => v.startsWith("./otel/collector.yaml:"))
      ?.split(":")[1];
    expect(configFlag).toBe(`--config=${mountedAt}`);
  });

  it("gives the collector the trace backend's address, a service in the same file", () => {
    const endpoint = collectorService?.environment?.TRACE_BACKEND_OTLP_ENDPOINT ?? "";
    const [host, port] = endpoint.split(":");
    expect(compose.services[host ?? ""], `service ${host}`).toBeDefined();
    expect(port).toBe("4317");
  });

  it("points every scalemesh service at the collector's OTLP/HTTP port, the only protocol they speak", () => {
    expect(scalemeshServices.map(([name]) => name).sort()).toEqual([
      "balancer",
      "coordinator",
      "optimizer",
      "worker",
    ]);
    const httpPort = String(
      at(collector, "receivers", "otlp", "protocols", "http", "endpoint"),
    ).split(":")[1];
    for (const [name, service] of scalemeshServices) {
      const env = service.environment ?? {};
      expect(env.OTEL_EXPORTER_OTLP_ENDPOINT, name).toBe(`http://otel-collector:${httpPort}`);
      // The services' own reading of the protocol variables accepts this environment.
      expect(otlpProtocolOf(env), name).toBe("http/protobuf");
    }
  });
});
