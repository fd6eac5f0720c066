// Every option as plain data (key, env name, flag, kind, default, what is
// allowed), read off the zod schema through its JSON Schema so the schema stays
// the one place an option is declared.
import { z } from "zod";
import { configSchema } from "./schema.js";

/** How a string from the environment or a flag turns into a value. */
export type OptionKind = "integer" | "number" | "boolean" | "string" | "enum" | "list" | "map";

export interface ConfigOption {
  readonly section: string;
  /** snake_case key inside the section. */
  readonly name: string;
  /** "section.name", as used in messages and flags. */
  readonly key: string;
  readonly envName: string;
  readonly flagName: string;
  readonly kind: OptionKind;
  /** What values are accepted, for people: "an integer >= 0", "one of a, b". */
  readonly allowed: string;
  readonly defaultValue: unknown;
  readonly description: string;
}

export const ENV_PREFIX = "SCALEMESH_";

type JsonSchemaNode = z.core.JSONSchema.JSONSchema;

export function envNameOf(section: string, name: string): string {
  return `${ENV_PREFIX}${section.toUpperCase()}_${name.toUpperCase()}`;
}

function asNode(value: z.core.JSONSchema._JSONSchema | undefined): JsonSchemaNode {
  return typeof value === "object" ? value : {};
}

function kindOf(node: JsonSchemaNode): OptionKind {
  if (node.enum !== undefined) return "enum";
  switch (node.type) {
    case "integer":
      return "integer";
    case "number":
      return "number";
    case "boolean":
      return "boolean";
    case "array":
      return "list";
    case "object":
      return "map";
    default:
      return "string";
  }
}

/** zod writes the safe-integer range for every .int(); it says nothing to a person. */
function bound(value: number | undefined): number | undefined {
  return value === undefined || Math.abs(value) >= Number.MAX_SAFE_INTEGER ? undefined : value;
}

function describeRange(noun: string, node: JsonSchemaNode): string {
  const min = bound(node.minimum);
  const max = bound(node.maximum);
  const above = bound(
    typeof node.exclusiveMinimum === "number" ? node.exclusiveMinimum : undefined,
  );
  if (min !== undefined && max !== undefined) return `${noun} from ${min} to ${max}`;
  if (min !== undefined) return `${noun} >= ${min}`;
  if (above !== undefined) return `${noun} > ${above}`;
  if (max !== undefined) return `${noun} <= ${max}`;
  return noun;
}

function describeAllowed(node: JsonSchemaNode, kind: OptionKind): string {
  const custom = node["allowed"];
  if (typeof custom === "string") return custom;
  switch (kind) {
    case "integer":
      return describeRange("an integer", node);
    case "number":
      return describeRange("a number", node);
    case "boolean":
      return "true or false (or 1 or 0)";
    case "enum":
      return `one of ${(node.enum ?? []).join(", ")}`;
    case "string":
      return node.minLength === undefined ? "a string" : "a non-empty string";
    case "list":
      return "a list of strings (comma-separated in env and flags)";
    case "map":
      return "key=value pairs (comma-separated in env and flags)";
    default: {
      const unhandled: never = kind;
      return unhandled;
    }
  }
}

function buildCatalog(): readonly ConfigOption[] {
  const root = z.toJSONSchema(configSchema, { io: "input" });
  const options: ConfigOption[] = [];
  for (const [section, sectionNode] of Object.entries(root.properties ?? {})) {
    for (const [name, value] of Object.entries(asNode(sectionNode).properties ?? {})) {
      const node = asNode(value);
      const kind = kindOf(node);
      options.push({
        section,
        name,
        key: `${section}.${name}`,
        envName: envNameOf(section, name),
        flagName: `--${section}.${name}`,
        kind,
        allowed: describeAllowed(node, kind),
        defaultValue: node.default,
        description: node.description ?? "",
      });
    }
  }
  return options;
}

export const CONFIG_OPTIONS: readonly ConfigOption[] = buildCatalog();

export const CONFIG_SECTIONS: readonly string[] = [
  ...new Set(CONFIG_OPTIONS.map((option) => option.section)),
];

const optionsByKey = new Map(CONFIG_OPTIONS.map((option) => [option.key, option]));
const optionsByEnvName = new Map(CONFIG_OPTIONS.map((option) => [option.envName, option]));

export function findOption(key: string): ConfigOption | undefined {
  return optionsByKey.get(key);
}

export function findOptionByEnvName(envName: string): ConfigOption | undefined {
  return optionsByEnvName.get(envName);
}

export function optionNamesOf(section: string): string[] {
  return CONFIG_OPTIONS.filter((option) => option.section === section).map((option) => option.name);
}
