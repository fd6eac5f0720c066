// The forecaster's state on disk, so history survives an optimizer restart:
// written whole to a temporary file and renamed over the old one (a crash
// mid-write leaves the previous file), read back at start. A file that
// cannot be read is set aside with the reason, not silently lost.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type { ForecasterSnapshot } from "./forecaster.js";

export type LoadedHistory =
  | { readonly kind: "none" }
  | { readonly kind: "loaded"; readonly snapshot: ForecasterSnapshot }
  | { readonly kind: "unreadable"; readonly reason: string; readonly movedTo: string };

export function loadHistoryFile(path: string): LoadedHistory {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { kind: "none" };
    throw error;
  }
  try {
    const snapshot = JSON.parse(text) as ForecasterSnapshot;
    if (snapshot === null || typeof snapshot !== "object" || snapshot.version !== 1)
      throw new Error(
        `unknown format (version ${String((snapshot as { version?: unknown } | null)?.version)})`,
      );
    if (
      snapshot.signals === null ||
      typeof snapshot.signals !== "object" ||
      Array.isArray(snapshot.signals)
    )
      throw new Error("signals is not an object of histories");
    if (snapshot.burst === null || typeof snapshot.burst !== "object")
      throw new Error("burst is not a detector state");
    if (snapshot.samples !== undefined && !Array.isArray(snapshot.samples))
      throw new Error("samples is not a list");
    return { kind: "loaded", snapshot };
  } catch (error) {
    const movedTo = `${path}.unreadable-${Date.now()}`;
    renameSync(path, movedTo);
    return {
      kind: "unreadable",
      reason: error instanceof Error ? error.message : String(error),
      movedTo,
    };
  }
}

export function saveHistoryFile(path: string, snapshot: ForecasterSnapshot): void {
  mkdirSync(dirname(path), { recursive: true });
  const temporary = `${path}.tmp`;
  writeFileSync(temporary, JSON.stringify(snapshot));
  renameSync(temporary, path);
}
