// The order RFC 2782 prescribes for the records of one SRV name: lowest
// priority first, and inside one priority a random order in which each
// record's chance to come next is proportional to its weight.

export interface WeightedRecord {
  /** Lower is tried first. */
  readonly priority: number;
  /** Relative share among the records of one priority; 0 = only when nothing else is left, nearly. */
  readonly weight: number;
}

/**
 * Returns the records in RFC 2782 order. `random` returns [0, 1) like
 * Math.random; ties are taken in input order, so a caller that sorts its
 * input first gets an order that replays exactly for a given random source.
 */
export function orderSrvRecords<T extends WeightedRecord>(
  records: readonly T[],
  random: () => number,
): T[] {
  const priorities = [...new Set(records.map(priorityOf))].sort((a, b) => a - b);
  return priorities.flatMap((priority) =>
    weightedOrder(
      records.filter((record) => priorityOf(record) === priority),
      random,
    ),
  );
}

// DNS gives 16-bit integers; anything else (NaN, Infinity, a negative weight)
// is kept, never lost: such a priority comes after every real one, and such
// a weight counts as 0. RFC 2782 caps weights at 65535.
const MAX_FIELD = 65_535;
const priorityOf = (record: WeightedRecord): number =>
  Number.isFinite(record.priority) ? record.priority : MAX_FIELD + 1;
const weightOf = (record: WeightedRecord): number =>
  Number.isFinite(record.weight) && record.weight > 0 ? Math.min(record.weight, MAX_FIELD) : 0;

/**
 * RFC 2782's selection, repeated until every record is placed: weight-0
 * records go to the front of the list, a number is drawn uniformly from
 * 0..sum(weights) inclusive, and the first record whose running sum reaches
 * it is next. The inclusive 0 is what gives weight-0 records their small
 * chance to be picked before the weighted ones.
 */
function weightedOrder<T extends WeightedRecord>(group: readonly T[], random: () => number): T[] {
  const unordered = [
    ...group.filter((record) => weightOf(record) === 0),
    ...group.filter((record) => weightOf(record) > 0),
  ];
  const ordered: T[] = [];
  while (unordered.length > 0) {
    const totalWeight = unordered.reduce((sum, record) => sum + weightOf(record), 0);
    // min() guards an injected random that returns 1, outside Math.random's range.
    const draw = Math.min(totalWeight, Math.floor(random() * (totalWeight + 1)));
    let runningSum = 0;
    const index = unordered.findIndex((record) => (runningSum += weightOf(record)) >= draw);
    ordered.push(...unordered.splice(index, 1));
  }
  return ordered;
}
