// Where the CLI finds the mesh: flags, then SCALEMESH_* environment, then the defaults.
import { parseEndpointUri } from "../../libs/discovery/index.js";
import { CliUsageError } from "./usage-error.js";

export function firstEndpoint(uri: string, option: string): string {
  const parsed = parseEndpointUri(uri);
  if (!parsed.ok) throw new CliUsageError(`${option}: ${parsed.error}`);
  return parsed.endpoints[0] as string;
}
