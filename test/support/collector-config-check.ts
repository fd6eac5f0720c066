// What can be checked of an OpenTelemetry Collector config without running a
// collector (none installs here): its structure, each component's settings
// against the keys its README documents, the pipeline rules the collector
// enforces when it starts (every reference defined, every component able to
// carry its pipeline's signal, connectors used on both sides), the order the
// processors' READMEs recommend, and no component left out of every pipeline
// (the collector would only ignore it). The key lists
// are the documented settings of the components scalemesh uses, not the whole
// schema: a valid setting missing from them is reported too, and a setting
// with a bad value is not.
export type Signal = "traces" | "metrics" | "logs";
type Section = "receivers" | "processors" | "exporters" | "connectors";

/** Nested documented keys; `true` marks a leaf whose value is not checked. */
interface Keys {
  readonly [key: string]: Keys | true;
}

interface Component {
  readonly signals: readonly Signal[];
  /** For a connector: the signal it produces from `signals`. */
  readonly produces?: Signal;
  readonly keys: Keys;
  readonly deprecatedFor?: string;
}

const GRPC_SERVER: Keys = {
  endpoint: true,
  transport: true,
  tls: true,
  max_recv_msg_size_mib: true,
  max_concurrent_streams: true,
  read_buffer_size: true,
  write_buffer_size: true,
  keepalive: true,
  auth: true,
  include_metadata: true,
};
const HTTP_SERVER: Keys = {
  endpoint: true,
  tls: true,
  cors: true,
  auth: true,
  include_metadata: true,
  max_request_body_size: true,
  traces_url_path: true,
  metrics_url_path: true,
  logs_url_path: true,
};
const GRPC_CLIENT: Keys = {
  endpoint: true,
  tls: {
    insecure: true,
    insecure_skip_verify: true,
    ca_file: true,
    cert_file: true,
    key_file: true,
  },
  compression: true,
  headers: true,
  keepalive: true,
  balancer_name: true,
  auth: true,
  timeout: true,
  retry_on_failure: true,
  sending_queue: true,
};
const ALL: readonly Signal[] = ["traces", "metrics", "logs"];

/** From each component's README in opentelemetry-collector and -contrib. */
export const KNOWN_COMPONENTS: Readonly<Record<Section, Readonly<Record<string, Component>>>> = {
  receivers: {
    otlp: { signals: ALL, keys: { protocols: { grpc: GRPC_SERVER, http: HTTP_SERVER } } },
  },
  processors: {
    memory_limiter: {
      signals: ALL,
      keys: {
        check_interval: true,
        limit_mib: true,
        spike_limit_mib: true,
        limit_percentage: true,
        spike_limit_percentage: true,
      },
    },
    batch: {
      signals: ALL,
      keys: {
        send_batch_size: true,
        timeout: true,
        send_batch_max_size: true,
        metadata_keys: true,
        metadata_cardinality_limit: true,
      },
    },
  },
  exporters: {
    otlp_grpc: { signals: ALL, keys: GRPC_CLIENT },
    otlp: { signals: ALL, keys: GRPC_CLIENT, deprecatedFor: "otlp_grpc" },
    prometheus: {
      signals: ["metrics"],
      keys: {
        endpoint: true,
        tls: true,
        const_labels: true,
        namespace: true,
        send_timestamps: true,
        metric_expiration: true,
        resource_to_telemetry_conversion: { enabled: true },
        enable_open_metrics: true,
        add_metric_suffixes: true,
        without_scope_info: true,
      },
    },
  },
  connectors: {
    spanmetrics: {
      signals: ["traces"],
      produces: "metrics",
      keys: {
        histogram: {
          disable: true,
          unit: true,
          explicit: { buckets: true },
          exponential: { max_size: true },
        },
        dimensions: true,
        exclude_dimensions: true,
        dimensions_cache_size: true,
        aggregation_temporality: true,
        namespace: true,
        metrics_flush_interval: true,
        exemplars: { enabled: true },
      },
    },
  },
};

const SECTIONS: readonly Section[] = ["receivers", "processors", "exporters", "connectors"];
const TOP_LEVEL = new Set<string>([...SECTIONS, "extensions", "service"]);
const COMPONENT_ID = /^([a-z][a-z0-9_]*)(?:\/[^/\s]+)?$/;
const PIPELINE_ID = /^(traces|metrics|logs)(?:\/[^/\s]+)?$/;

type Config = Record<string, unknown>;

/** Every problem found in `config`, each a sentence naming where; [] when none. */
export function checkCollectorConfig(config: Config): string[] {
  const problems: string[] = [];
  for (const key of Object.keys(config))
    if (!TOP_LEVEL.has(key)) problems.push(`top level: "${key}" is not a collector section`);
  for (const section of SECTIONS)
    for (const [id, settings] of Object.entries(asRecord(config[section])))
      problems.push(...checkComponent(section, id, settings));
  problems.push(...checkPipelines(config));
  return problems;
}

function checkComponent(section: Section, id: string, settings: unknown): string[] {
  const type = COMPONENT_ID.exec(id)?.[1];
  const known = type ? KNOWN_COMPONENTS[section][type] : undefined;
  if (!known) return [`${section}.${id}: no ${section.slice(0, -1)} of that type is known`];
  const problems = unknownKeys(`${section}.${id}`, settings, known.keys);
  if (known.deprecatedFor)
    problems.push(`${section}.${id}: "${type}" is deprecated, use "${known.deprecatedFor}"`);
  return problems;
}

function unknownKeys(path: string, value: unknown, keys: Keys): string[] {
  if (value === null || value === undefined) return [];
  if (typeof value !== "object" || Array.isArray(value))
    return [`${path}: expected a mapping of settings`];
  return Object.entries(value as Config).flatMap(([key, inner]) => {
    const documented = keys[key];
    if (!documented) return [`${path}.${key}: not a documented setting`];
    return documented === true ? [] : unknownKeys(`${path}.${key}`, inner, documented);
  });
}

function checkPipelines(config: Config): string[] {
  const problems: string[] = [];
  const pipelines = asRecord(asRecord(config.service).pipelines);
  if (Object.keys(pipelines).length === 0) problems.push("service.pipelines: none defined");
  const used = new Set<string>();
  const connectorSides = new Map<string, { asExporter: Signal[]; asReceiver: Signal[] }>();
  for (const [pipelineId, body] of Object.entries(pipelines)) {
    const signal = PIPELINE_ID.exec(pipelineId)?.[1] as Signal | undefined;
    const where = `service.pipelines.${pipelineId}`;
    if (!signal) {
      problems.push(`${where}: a pipeline id starts with traces, metrics or logs`);
      continue;
    }
    const stages = asRecord(body);
    for (const key of Object.keys(stages))
      if (!["receivers", "processors", "exporters"].includes(key))
        problems.push(`${where}.${key}: not a pipeline setting`);
    for (const stage of ["receivers", "processors", "exporters"] as const) {
      const ids = asStrings(stages[stage]);
      if (stage !== "processors" && ids.length === 0) problems.push(`${where}.${stage}: empty`);
      for (const id of ids) {
        const section = sectionOf(config, stage, id);
        if (!section) {
          problems.push(`${where}.${stage}: "${id}" is not defined in ${stage}`);
          continue;
        }
        used.add(`${section}.${id}`);
        const known = KNOWN_COMPONENTS[section][COMPONENT_ID.exec(id)?.[1] ?? ""];
        if (!known) continue;
        if (section === "connectors") {
          const sides = connectorSides.get(id) ?? { asExporter: [], asReceiver: [] };
          (stage === "exporters" ? sides.asExporter : sides.asReceiver).push(signal);
          connectorSides.set(id, sides);
          const carries = stage === "exporters" ? known.signals : [known.produces];
          if (!carries.includes(signal))
            problems.push(
              `${where}.${stage}: connector "${id}" does not ${stage === "exporters" ? "take" : "produce"} ${signal}`,
            );
        } else if (!known.signals.includes(signal))
          problems.push(`${where}.${stage}: "${id}" does not support ${signal}`);
      }
    }
    problems.push(...processorOrder(where, asStrings(stages.processors)));
  }
  for (const [id, sides] of connectorSides)
    if (sides.asExporter.length === 0 || sides.asReceiver.length === 0)
      problems.push(
        `connectors.${id}: used on one side only (a connector exports from one pipeline into another)`,
      );
  for (const section of SECTIONS)
    for (const id of Object.keys(asRecord(config[section])))
      if (!used.has(`${section}.${id}`))
        problems.push(`${section}.${id}: defined but in no pipeline`);
  return problems;
}

/** The processors' READMEs: memory_limiter first, batch after it. */
function processorOrder(where: string, processors: readonly string[]): string[] {
  const typeAt = (i: number) => COMPONENT_ID.exec(processors[i] ?? "")?.[1];
  const limiter = processors.findIndex((_, i) => typeAt(i) === "memory_limiter");
  const batch = processors.findIndex((_, i) => typeAt(i) === "batch");
  const problems: string[] = [];
  if (limiter > 0) problems.push(`${where}.processors: memory_limiter should come first`);
  if (batch >= 0 && limiter > batch)
    problems.push(`${where}.processors: batch should come after memory_limiter`);
  return problems;
}

function sectionOf(config: Config, stage: string, id: string): Section | undefined {
  if (id in asRecord(config[stage])) return stage as Section;
  if (stage !== "processors" && id in asRecord(config.connectors)) return "connectors";
  return undefined;
}

/**
 * The environment variables a config reads, with their defaults, from the
 * collector's `${env:NAME}` and `${env:NAME:-default}` references; a
 * reference of another shape (`${NAME}`, another provider) is returned
 * under `unrecognised`.
 */
export function envReferences(text: string): {
  readonly variables: ReadonlyMap<string, string | undefined>;
  readonly unrecognised: readonly string[];
} {
  const variables = new Map<string, string | undefined>();
  const unrecognised: string[] = [];
  for (const [reference, inner] of text.matchAll(/\$\{([^}]*)\}/g)) {
    const parsed = /^env:([a-zA-Z_][a-zA-Z0-9_]*)(?::-(.*))?$/.exec(inner ?? "");
    if (parsed?.[1]) variables.set(parsed[1], parsed[2]);
    else unrecognised.push(reference);
  }
  return { variables, unrecognised };
}

function asRecord(value: unknown): Config {
  return value && typeof value === "object" && !Array.isArray(value) ? (value as Config) : {};
}

function asStrings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}
