// Metric children bound once per tuple of label values: prom-client's
// labels() hashes its arguments on every call, a Map lookup here does not.
// For label values from bounded sets only (see bounded-label.ts).
export function labelChildren<C>(bind: (...values: string[]) => C): (...values: string[]) => C {
  const children = new Map<string, C>();
  return (...values) => {
    const key = values.join("\u0000");
    let child = children.get(key);
    if (child === undefined) {
      child = bind(...values);
      children.set(key, child);
    }
    return child;
  };
}
