// The forecaster's state on disk, so history survives an optimizer restart:
// written whole to a temporary file and renamed over the old one (a crash
// mid-write leaves the previous file), read back at start. A file that
// cannot be read is set aside with the reason, not silently lost.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type { ForecasterSnapshot } from "./forecaster.js";

export type LoadedHistory = { readonly kind: "none" } | { readonly kind: "loaded"; readonly snapshot: ForecasterSnapshot } | { readonly kind: "unreadable"; readonly reason: string; readonly movedTo: string };

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
    if (snapshot.version !== 1 || typeof snapshot.signals !== "object") throw new Error(`unknown format (version ${String(snapshot.version)})`);
    return { kind: "loaded", snapshot };
  } catch (error) {
    const movedTo = `${path}.unreadable-${Date.now()}`;
    renameSync(path, movedTo);
    return { kind: "unreadable", reason: error instanceof Error ? error.message : String(error), movedTo };
  }
}

export function saveHistoryFile(path: string, snapshot: ForecasterSnapshot): void {
  mkdirSync(dirname(path), { recursive: true });
  const temporary = `${path}.tmp`;
  writeFileSync(temporary, JSON.stringify(snapshot));
  renameSync(temporary, path);
}
