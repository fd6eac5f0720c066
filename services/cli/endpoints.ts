// Where the CLI finds the mesh: a discovery URI from flags, then SCALEMESH_*
// environment, then the defaults. The URI is checked here, so a typo is
// exit code 2 naming the option, and handed to the client whole: it follows
// the URI as services do.
import { parseEndpointUri } from "../../libs/discovery/index.js";
import { CliUsageError } from "./usage-error.js";

export function checkedTarget(uri: string, option: string): string {
  const parsed = parseEndpointUri(uri);
  if (!parsed.ok) throw new CliUsageError(`${option}: ${parsed.error}`);
  return uri.trim();
}
