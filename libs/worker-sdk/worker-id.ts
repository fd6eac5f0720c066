// A worker id for a process that was not given one: `${prefix}-${hostname}-${random}`.
// Generated once when the worker is created and kept across reconnects, so
// the coordinator sees one worker coming back rather than a new one.
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";

export interface WorkerIdParts {
  readonly prefix?: string;
  readonly host?: string;
  /** Injected by tests; 6 random hex characters otherwise. */
  readonly suffix?: string;
}

export function generateWorkerId(parts: WorkerIdParts = {}): string {
  const prefix = sanitize(parts.prefix ?? "worker") || "worker";
  const host = sanitize(parts.host ?? hostname()) || "host";
  const suffix = parts.suffix ?? randomBytes(3).toString("hex");
  return `${prefix}-${host}-${suffix}`;
}

/** Lower-case letters, digits, dots and dashes: safe in logs, metrics labels and Kubernetes names. */
function sanitize(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9.-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 40);
}
