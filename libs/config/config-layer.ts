// What one source (file, environment, flags) contributes: option values with
// where each came from, plus the problems found while reading it.
import type { ConfigIssue } from "./config-issue.js";

export interface LayerEntry {
  /** "section.name" of a known option. */
  readonly key: string;
  /** The value after coercion, as the schema will see it. */
  readonly value: unknown;
  /** The value as written (env and flag text, or the YAML value), for messages. */
  readonly raw: unknown;
  /** "file scalemesh.yaml", "env SCALEMESH_X", "flag --x". */
  readonly source: string;
}

export interface ConfigLayer {
  readonly entries: readonly LayerEntry[];
  readonly issues: readonly ConfigIssue[];
  /** Sources that contributed, in the order they were read. */
  readonly sources: readonly string[];
}

export const EMPTY_LAYER: ConfigLayer = { entries: [], issues: [], sources: [] };
