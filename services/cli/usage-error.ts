/** A mistake in how the CLI was called: exit code 2, the message names the option. */
export class CliUsageError extends Error {
  override readonly name = "CliUsageError";
}
