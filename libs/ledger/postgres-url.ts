// The PostgreSQL ledger's url: what `ledger.url` accepts, and the url as it
// may be shown in a log line or an error (never with its password).

export type PostgresUrlCheck =
  { readonly ok: true; readonly url: string } | { readonly ok: false; readonly error: string };

const EXAMPLE = "postgres://scalemesh:secret@db.internal:5432/scalemesh";

/** Checks the shape of a postgres:// url; the server says the rest when the store opens. */
export function checkPostgresUrl(url: string): PostgresUrlCheck {
  const shown = withoutPassword(url);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { ok: false, error: `"${shown}" is not a url; expected e.g. ${EXAMPLE}` };
  }
  if (parsed.protocol !== "postgres:" && parsed.protocol !== "postgresql:")
    return {
      ok: false,
      error: `"${shown}" is not a postgres:// or postgresql:// url; expected e.g. ${EXAMPLE}`,
    };
  // A Unix socket directory may come as ?host=/run/postgresql instead.
  if (parsed.hostname === "" && !parsed.searchParams.get("host"))
    return { ok: false, error: `"${shown}" names no host; expected e.g. ${EXAMPLE}` };
  if (decodeURIComponent(parsed.pathname.replace(/^\//, "")) === "")
    return {
      ok: false,
      error: `"${shown}" names no database after the host; expected e.g. ${EXAMPLE}`,
    };
  return { ok: true, url };
}

/** The url with its password left out (in the user part and in a password= parameter). */
export function withoutPassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password === "" && !parsed.searchParams.has("password")) return url;
    parsed.password = "";
    parsed.searchParams.delete("password");
    return parsed.toString();
  } catch {
    // Not a url at all: drop whatever sits between "user:" and "@".
    return url.replace(/(\/\/[^/:@\s]*):[^@\s]*@/, "$1@");
  }
}
