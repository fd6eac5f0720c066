// One problem with the configuration, and how it reads to a person.

export type ConfigIssueKind =
  /** A known option got a value it does not accept. */
  | "invalid_value"
  /** A key, section, variable or flag that is not an option (usually a typo). */
  | "unknown_key"
  /** The config file is missing, unreadable or not valid YAML. */
  | "unreadable_file";

export interface ConfigIssue {
  readonly kind: ConfigIssueKind;
  /** "section.key" (or the section, or "config" for the file itself). */
  readonly key: string;
  /** The value as the source gave it (a string for env and flags). */
  readonly value: unknown;
  /** What would have been accepted. */
  readonly allowed: string;
  /** "default", "file scalemesh.yaml", "env SCALEMESH_X", "flag --x". */
  readonly source: string;
}

export const HELP_HINT = "see 'scalemesh --help-config' for every option";

/** A url's password (scheme://user:password@host) never reaches a message. */
const URL_PASSWORD = /(\/\/[^/:@\s"]*):[^@\s"]*@/g;

function showValue(value: unknown): string {
  if (value === undefined) return "(nothing)";
  return (JSON.stringify(value) ?? String(value)).replace(URL_PASSWORD, "$1@");
}

export function formatConfigIssue(issue: ConfigIssue): string {
  const { key, value, allowed, source } = issue;
  switch (issue.kind) {
    case "invalid_value":
      return `invalid value for ${key}: ${showValue(value)} (from ${source}); allowed: ${allowed}`;
    case "unknown_key":
      return `unknown key ${key}: ${showValue(value)} (from ${source}); allowed: ${allowed}`;
    case "unreadable_file":
      return `cannot read config file ${showValue(value)} (from ${source}); allowed: ${allowed}`;
    default: {
      const unhandled: never = issue.kind;
      return unhandled;
    }
  }
}

/** The whole message: every issue on its own line, then where to look. */
export function formatConfigIssues(issues: readonly ConfigIssue[]): string {
  const count = issues.length === 1 ? "1 problem" : `${issues.length} problems`;
  return [
    `invalid configuration (${count}):`,
    ...issues.map((issue) => `  ${formatConfigIssue(issue)}`),
    HELP_HINT,
  ].join("\n");
}
