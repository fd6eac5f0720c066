// What to tell someone who wrote a key that is not an option: the nearest
// option if it looks like a typo, else the keys that do exist.
import {
  CONFIG_OPTIONS,
  CONFIG_SECTIONS,
  optionNamesOf,
  type ConfigOption,
} from "./option-catalog.js";
import { suggestName } from "./suggest-name.js";

/** How an option is spelled where the mistake was made (key, env name, flag). */
export type SpellOption = (option: ConfigOption) => string;

const spellKey: SpellOption = (option) => option.key;

function nearestOption(key: string): ConfigOption | undefined {
  const nearestKey = suggestName(
    key,
    CONFIG_OPTIONS.map((option) => option.key),
  );
  return CONFIG_OPTIONS.find((option) => option.key === nearestKey);
}

function describeUnknownSection(name: string, spell: SpellOption): string {
  const sections = CONFIG_SECTIONS.join(", ");
  // An option written at the top level of the file, as a flat old config would.
  const owner = CONFIG_OPTIONS.find((option) => option.name === name);
  if (owner !== undefined) return `one of the sections ${sections}; did you mean ${spell(owner)}?`;
  const nearest = suggestName(name, CONFIG_SECTIONS);
  if (nearest !== undefined) return `one of the sections ${sections}; did you mean ${nearest}?`;
  return `one of the sections ${sections}`;
}

/**
 * `allowed` text for an unknown key: "section" (a file's top level) or
 * "section.name" (anywhere).
 */
export function describeUnknownKey(key: string, spell: SpellOption = spellKey): string {
  const [section = "", name] = key.split(/\.(.*)/s);
  if (name === undefined) return describeUnknownSection(section, spell);
  const nearest = nearestOption(key);
  if (nearest !== undefined) return `a known option; did you mean ${spell(nearest)}?`;
  if (CONFIG_SECTIONS.includes(section))
    return `a key of ${section}: ${optionNamesOf(section).join(", ")}`;
  const elsewhere = CONFIG_OPTIONS.find((option) => option.name === name);
  if (elsewhere !== undefined) return `a known option; did you mean ${spell(elsewhere)}?`;
  return `a known option <section>.<key>, with sections ${CONFIG_SECTIONS.join(", ")}`;
}
