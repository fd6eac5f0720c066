// A label whose values come from clients (a task's free-form task_type) kept
// to a bounded set, so a client cannot grow the number of series without
// end: the first `limit` distinct values are kept as they are, every later
// one is "other", and an empty value is "none".
export const OTHER_LABEL_VALUE = "other";
export const EMPTY_LABEL_VALUE = "none";

export interface BoundedLabel {
  /** The label value to use for `value`. */
  of(value: string): string;
  /** The values admitted so far (without "other" and "none"). */
  readonly admitted: ReadonlySet<string>;
}

export function createBoundedLabel(options: {
  readonly limit: number;
  /** Told once of each value admitted, e.g. to zero its series so a first increase is seen. */
  readonly onAdmitted?: (value: string) => void;
}): BoundedLabel {
  const admitted = new Set<string>();
  return {
    of(value) {
      if (value === "") return EMPTY_LABEL_VALUE;
      if (admitted.has(value)) return value;
      if (admitted.size >= options.limit) return OTHER_LABEL_VALUE;
      admitted.add(value);
      options.onAdmitted?.(value);
      return value;
    },
    admitted,
  };
}
