// pino JSON logs; each line carries trace_id and span_id when a span is active.
import { trace } from "@opentelemetry/api";
import {
  destination as pinoDestination,
  pino,
  stdTimeFunctions,
  type Logger,
  type LevelWithSilent,
} from "pino";

export type { Logger };

export interface LoggerOptions {
  readonly service: string;
  readonly version: string;
  readonly level?: LevelWithSilent;
}

export function createLogger(options: LoggerOptions): Logger {
  // stdout may be a pipe whose reader is gone (a parent that died): a failed
  // log write must never stop the service from working or from shutting down.
  const destination = pinoDestination({ fd: 1, sync: true });
  destination.on("error", () => {});
  return pino(
    {
      level: options.level ?? "info",
      base: { service: options.service, version: options.version, pid: process.pid },
      timestamp: stdTimeFunctions.isoTime,
      mixin() {
        const span = trace.getActiveSpan();
        if (!span) return {};
        const { traceId, spanId } = span.spanContext();
        return { trace_id: traceId, span_id: spanId };
      },
    },
    destination,
  );
}
