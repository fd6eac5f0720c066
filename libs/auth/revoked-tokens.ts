// auth.revoked_tokens_file: token ids refused from now on, one per line (#
// starts a comment), read again whenever the file changes. Join and role
// tokens share it.
import { readFileSync, statSync } from "node:fs";

/** The revoked token ids, read again whenever the file changes ("" or a missing file: none). */
export function revokedTokenReader(file: string): () => ReadonlySet<string> {
  let seen = -1;
  let ids: ReadonlySet<string> = new Set();
  return () => {
    if (file === "") return ids;
    let mtime: number;
    try {
      mtime = statSync(file).mtimeMs;
    } catch {
      return ids;
    }
    if (mtime !== seen) {
      ids = new Set(
        readFileSync(file, "utf8")
          .split("\n")
          .map((line) => line.replace(/#.*/, "").trim())
          .filter((line) => line !== ""),
      );
      seen = mtime;
    }
    return ids;
  };
}
