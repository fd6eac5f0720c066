// One answer of the mesh as the CLI prints it: the same reading as a JSON
// document for scripts (--output json) and as a table for people.
import { toJson, type DescMessage, type JsonValue, type MessageShape } from "@bufbuild/protobuf";
import type { OutputFormat } from "./option-parsers.js";

export interface Reading {
  /** Proto JSON (toJson), or an object of such values: never a message run through JSON.stringify. */
  readonly document: JsonValue;
  readonly table: string;
}

/**
 * The text of one reading. `isLine`: one compact JSON object on one line
 * (--watch streams them); otherwise an indented document.
 */
export function readingText(reading: Reading, format: OutputFormat, isLine = false): string {
  switch (format) {
    case "json":
      return JSON.stringify(reading.document, null, isLine ? undefined : 2);
    case "table":
      return reading.table;
    default: {
      const unknown: never = format;
      throw new Error(`unknown output format ${String(unknown)}`);
    }
  }
}

/** A message as proto JSON, zero values included, so a script finds `"inFlight": 0` rather than nothing. */
export function documentOf<Desc extends DescMessage>(
  schema: Desc,
  message: MessageShape<Desc>,
): JsonValue {
  return toJson(schema, message, { alwaysEmitImplicit: true });
}
