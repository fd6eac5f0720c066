// The --help-config text: every option with its default, env name and meaning.
import { CONFIG_FILE_FLAG } from "./config-flags.js";
import { CONFIG_OPTIONS, CONFIG_SECTIONS } from "./option-catalog.js";
import { DEFAULT_CONFIG_FILE } from "./read-config-file.js";
import { CONFIG_FILE_ENV } from "./read-env.js";

function padColumns(rows: readonly (readonly string[])[]): string[] {
  const widths =
    rows[0]?.map((_, column) => Math.max(...rows.map((row) => row[column]?.length ?? 0))) ?? [];
  return rows.map((row) =>
    row
      .map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)))
      .join("  ")
      .trimEnd(),
  );
}

export function configHelp(): string {
  const header = [
    "scalemesh configuration. Later sources win:",
    `  defaults < ${DEFAULT_CONFIG_FILE} (or ${CONFIG_FILE_FLAG} FILE, or ${CONFIG_FILE_ENV}=FILE) < environment < flags`,
    "  file:  YAML, a mapping per section, e.g.  scaling: {min_workers: 3}",
    "  env:   SCALEMESH_<SECTION>_<KEY>=value    (lists: a,b  maps: k=v,k2=v2  booleans: true/false/1/0)",
    "  flags: --section.key=value or --section.key value (dashes allowed in the key; repeat a list flag to append)",
  ];
  const sections = CONFIG_SECTIONS.map((section) => {
    const rows = CONFIG_OPTIONS.filter((option) => option.section === section).map((option) => [
      `  ${option.key}`,
      JSON.stringify(option.defaultValue) ?? "",
      option.envName,
      `${option.description} Allowed: ${option.allowed}.`,
    ]);
    return [
      `${section}:`,
      ...padColumns([["  KEY", "DEFAULT", "ENV", "DESCRIPTION"], ...rows]),
    ].join("\n");
  });
  return [header.join("\n"), ...sections].join("\n\n") + "\n";
}
