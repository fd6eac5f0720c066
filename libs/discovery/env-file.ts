// The contents of a file an environment variable names (etcdctl's and
// Consul's TLS variables): undefined when the variable is unset; an error
// naming the variable when the file cannot be read.
import { readFileSync } from "node:fs";

export function fileNamedBy(env: NodeJS.ProcessEnv, name: string): Buffer | undefined {
  const file = env[name];
  if (!file) return undefined;
  try {
    return readFileSync(file);
  } catch {
    throw new Error(`${name}: cannot read ${file}`);
  }
}
