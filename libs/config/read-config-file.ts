// The YAML config file as a config layer: which file, its syntax errors with
// line numbers, and its sections checked against the known options.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseDocument } from "yaml";
import type { ConfigIssue } from "./config-issue.js";
import { EMPTY_LAYER, type ConfigLayer, type LayerEntry } from "./config-layer.js";
import { isRecord } from "./coerce-value.js";
import { CONFIG_SECTIONS, findOption } from "./option-catalog.js";
import { describeUnknownKey } from "./unknown-key.js";

export const DEFAULT_CONFIG_FILE = "scalemesh.yaml";

export interface ConfigFileLocation {
  /** As given (for messages). */
  readonly path: string;
  readonly absolutePath: string;
  /** Who named it: "flag --config", "env SCALEMESH_CONFIG" or "default". */
  readonly namedBy: string;
  /** A file someone named must exist; the default one may be absent. */
  readonly isRequired: boolean;
}

/** --config wins over SCALEMESH_CONFIG, which wins over ./scalemesh.yaml. */
export function locateConfigFile(options: {
  flag: { readonly path: string; readonly source: string } | undefined;
  envPath: string | undefined;
  envName: string;
  cwd: string;
}): ConfigFileLocation {
  const { flag, envPath, envName, cwd } = options;
  if (flag !== undefined) {
    return {
      path: flag.path,
      absolutePath: resolve(cwd, flag.path),
      namedBy: flag.source,
      isRequired: true,
    };
  }
  if (envPath !== undefined && envPath !== "") {
    return {
      path: envPath,
      absolutePath: resolve(cwd, envPath),
      namedBy: `env ${envName}`,
      isRequired: true,
    };
  }
  return {
    path: DEFAULT_CONFIG_FILE,
    absolutePath: resolve(cwd, DEFAULT_CONFIG_FILE),
    namedBy: "default",
    isRequired: false,
  };
}

const READ_ERRORS: Readonly<Record<string, string>> = {
  ENOENT: "no such file",
  EISDIR: "it is a directory",
  EACCES: "permission denied",
};

function readText(
  location: ConfigFileLocation,
): { text: string } | { issue: ConfigIssue } | undefined {
  try {
    return { text: readFileSync(location.absolutePath, "utf8") };
  } catch (error) {
    const code = isRecord(error) && typeof error["code"] === "string" ? error["code"] : "";
    if (code === "ENOENT" && !location.isRequired) return undefined;
    const reason = READ_ERRORS[code] ?? (error instanceof Error ? error.message : String(error));
    return {
      issue: {
        kind: "unreadable_file",
        key: "config",
        value: location.path,
        allowed: `an existing, readable YAML file (${reason})`,
        source: location.namedBy,
      },
    };
  }
}

function parseYaml(
  text: string,
  fileSource: string,
  path: string,
): { parsed: unknown } | { issues: ConfigIssue[] } {
  const document = parseDocument(text, { prettyErrors: true });
  if (document.errors.length === 0) return { parsed: document.toJS() };
  const issues = document.errors.map((error): ConfigIssue => {
    const position = error.linePos?.[0];
    const where = position === undefined ? "" : ` line ${position.line}, column ${position.col}`;
    // Pretty messages end in " at line L, column C:" and an excerpt; the source already says where.
    const reason = (error.message.split("\n")[0] ?? "").replace(/ at line \d+, column \d+:?$/, "");
    return {
      kind: "unreadable_file",
      key: "config",
      value: path,
      allowed: `valid YAML (${reason})`,
      source: `${fileSource}${where}`,
    };
  });
  return { issues };
}

/** Options from the parsed file; an empty section (every key commented out) counts as absent. */
function readSections(
  parsed: unknown,
  source: string,
): { entries: LayerEntry[]; issues: ConfigIssue[] } {
  const entries: LayerEntry[] = [];
  const issues: ConfigIssue[] = [];
  if (parsed === null || parsed === undefined) return { entries, issues };
  if (!isRecord(parsed)) {
    const allowed = `a mapping of sections (${CONFIG_SECTIONS.join(", ")})`;
    return {
      entries,
      issues: [{ kind: "invalid_value", key: "config", value: parsed, allowed, source }],
    };
  }
  for (const [section, body] of Object.entries(parsed)) {
    if (!CONFIG_SECTIONS.includes(section)) {
      issues.push({
        kind: "unknown_key",
        key: section,
        value: body,
        allowed: describeUnknownKey(section),
        source,
      });
      continue;
    }
    if (body === null || body === undefined) continue;
    if (!isRecord(body)) {
      issues.push({
        kind: "invalid_value",
        key: section,
        value: body,
        allowed: `a mapping of ${section} options`,
        source,
      });
      continue;
    }
    for (const [name, value] of Object.entries(body)) {
      const key = `${section}.${name}`;
      if (findOption(key) === undefined) {
        issues.push({ kind: "unknown_key", key, value, allowed: describeUnknownKey(key), source });
      } else {
        entries.push({ key, value, raw: value, source });
      }
    }
  }
  return { entries, issues };
}

export function readConfigFileLayer(location: ConfigFileLocation): ConfigLayer {
  const read = readText(location);
  if (read === undefined) return EMPTY_LAYER;
  if ("issue" in read) return { entries: [], issues: [read.issue], sources: [] };
  const source = `file ${location.path}`;
  const parsed = parseYaml(read.text, source, location.path);
  if ("issues" in parsed) return { entries: [], issues: parsed.issues, sources: [] };
  const { entries, issues } = readSections(parsed.parsed, source);
  return { entries, issues, sources: [source] };
}
