// One reading of the whole cluster's load as the pure core sees it: the
// fields of scalemesh.v1.LoadSample as plain numbers, the time in epoch ms.
export interface LoadRecord {
  readonly observedAtMs: number;
  readonly workers: number;
  readonly totalSlots: number;
  /** Tasks ASSIGNED or RUNNING. */
  readonly busySlots: number;
  readonly pendingTasks: number;
  /** Mean worker CPU use, as a fraction of one core. */
  readonly meanCpuUtilization: number;
  readonly arrivalRatePerSec: number;
  readonly completionRatePerSec: number;
}

/**
 * Work in the system over the slots that can run it: in-flight tasks count as
 * load, and so do tasks waiting for room, so a saturated fleet with a queue
 * reads above 1. Undefined when there are no slots to measure against.
 */
export function slotUtilizationOf(record: LoadRecord): number | undefined {
  if (record.totalSlots <= 0) return undefined;
  return (record.busySlots + record.pendingTasks) / record.totalSlots;
}
