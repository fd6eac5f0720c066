// SCALEMESH_<SECTION>_<KEY> environment variables as a config layer.
import type { ConfigIssue } from "./config-issue.js";
import type { ConfigLayer, LayerEntry } from "./config-layer.js";
import { coerceOptionText } from "./coerce-value.js";
import {
  CONFIG_OPTIONS,
  CONFIG_SECTIONS,
  ENV_PREFIX,
  findOptionByEnvName,
  type ConfigOption,
} from "./option-catalog.js";
import { suggestName } from "./suggest-name.js";
import { describeUnknownKey } from "./unknown-key.js";

/** SCALEMESH_ variables that are not options. */
export const CONFIG_FILE_ENV = "SCALEMESH_CONFIG";
const NON_OPTION_ENV: ReadonlySet<string> = new Set([CONFIG_FILE_ENV]);

function sectionOfVariable(name: string): string | undefined {
  const rest = name.slice(ENV_PREFIX.length);
  return CONFIG_SECTIONS.find((section) => rest.startsWith(`${section.toUpperCase()}_`));
}

/** The option a mistyped variable most likely meant: a near miss, or one whose key it ends in. */
function optionMeantBy(name: string): ConfigOption | undefined {
  // Compare without the shared prefix, so it does not make unrelated long names look close.
  const rest = name.slice(ENV_PREFIX.length);
  const nearest = suggestName(
    rest,
    CONFIG_OPTIONS.map((option) => option.envName.slice(ENV_PREFIX.length)),
  );
  if (nearest !== undefined) return findOptionByEnvName(`${ENV_PREFIX}${nearest}`);
  return CONFIG_OPTIONS.find(
    (option) =>
      rest === option.name.toUpperCase() || rest.endsWith(`_${option.name.toUpperCase()}`),
  );
}

/**
 * An unknown SCALEMESH_ variable is an error when it looks like an option
 * (names a known section, or is near one); anything else is left alone, for
 * tools that share the prefix.
 */
function unknownVariableIssue(name: string, text: string): ConfigIssue | undefined {
  const section = sectionOfVariable(name);
  const meant = optionMeantBy(name);
  if (section === undefined && meant === undefined) return undefined;
  const rest = name.slice(ENV_PREFIX.length).toLowerCase();
  const key = section === undefined ? name : `${section}.${rest.slice(section.length + 1)}`;
  const allowed =
    meant !== undefined
      ? `a known option; did you mean ${meant.envName}?`
      : describeUnknownKey(key, (option) => option.envName);
  return { kind: "unknown_key", key, value: text, allowed, source: `env ${name}` };
}

export function readEnvLayer(env: Readonly<Record<string, string | undefined>>): ConfigLayer {
  const entries: LayerEntry[] = [];
  const issues: ConfigIssue[] = [];
  for (const name of Object.keys(env).sort()) {
    const text = env[name];
    if (text === undefined || !name.startsWith(ENV_PREFIX) || NON_OPTION_ENV.has(name)) continue;
    const option = findOptionByEnvName(name);
    if (option !== undefined) {
      entries.push({
        key: option.key,
        value: coerceOptionText(option.kind, text),
        raw: text,
        source: `env ${name}`,
      });
      continue;
    }
    const issue = unknownVariableIssue(name, text);
    if (issue !== undefined) issues.push(issue);
  }
  return { entries, issues, sources: entries.map((entry) => entry.source) };
}
