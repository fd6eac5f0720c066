// Turns the text of an environment variable or flag into the value its option
// takes. Text that does not parse is passed through unchanged, so the schema
// rejects it and the message shows exactly what was written.
import type { OptionKind } from "./option-catalog.js";

const NUMBER_TEXT = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function splitList(text: string): string[] {
  return text
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item !== "");
}

/** "k=v,k2=v2" to a record, or undefined if an entry has no "key=". */
function parseKeyValuePairs(text: string): Record<string, string> | undefined {
  const pairs: Record<string, string> = {};
  for (const entry of splitList(text)) {
    const equals = entry.indexOf("=");
    if (equals <= 0) return undefined;
    pairs[entry.slice(0, equals).trim()] = entry.slice(equals + 1).trim();
  }
  return pairs;
}

export function coerceOptionText(kind: OptionKind, text: string): unknown {
  switch (kind) {
    case "integer":
    case "number":
      return NUMBER_TEXT.test(text.trim()) ? Number(text.trim()) : text;
    case "boolean": {
      const word = text.trim().toLowerCase();
      if (word === "true" || word === "1") return true;
      if (word === "false" || word === "0") return false;
      return text;
    }
    case "string":
    case "enum":
      return text;
    case "list":
      return splitList(text);
    case "map":
      return parseKeyValuePairs(text) ?? text;
    default: {
      const unhandled: never = kind;
      return unhandled;
    }
  }
}

/** Two values for one option within one source: lists append, maps merge, others replace. */
export function combineOptionValues(kind: OptionKind, earlier: unknown, later: unknown): unknown {
  if (kind === "list" && Array.isArray(earlier) && Array.isArray(later))
    return [...earlier, ...later];
  if (kind === "map" && isRecord(earlier) && isRecord(later)) return { ...earlier, ...later };
  return later;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
