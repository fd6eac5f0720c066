// The scalemesh version, read once from the nearest package.json above this file
// (the same answer from source under vitest and from dist/ when built).
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

function findVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 6; depth += 1) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === "scalemesh" && pkg.version) return pkg.version;
    } catch {
      // not here; look one level up
    }
    dir = dirname(dir);
  }
  return "0.0.0-unknown";
}

export const SCALEMESH_VERSION = findVersion();

/** The project root (where package.json is), for locating examples and dist. */
export function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 6; depth += 1) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name?: string };
      if (pkg.name === "scalemesh") return dir;
    } catch {
      // keep looking
    }
    dir = dirname(dir);
  }
  return process.cwd();
}
