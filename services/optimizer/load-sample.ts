// A LoadSample off the wire, checked and turned into the pure core's LoadRecord.
import { timestampMs } from "@bufbuild/protobuf/wkt";
import type { LoadSample } from "../../libs/contracts/index.js";
import type { LoadRecord } from "../../libs/scaling/index.js";

export type SampleCheck =
  | { readonly kind: "valid"; readonly record: LoadRecord }
  /** `field` is the path from ObserveRequest, e.g. "sample.busy_slots". */
  | { readonly kind: "invalid"; readonly field: string; readonly problem: string };

export function checkLoadSample(sample: LoadSample | undefined): SampleCheck {
  if (!sample) return { kind: "invalid", field: "sample", problem: "is required" };
  if (!sample.observedAt) {
    return {
      kind: "invalid",
      field: "sample.observed_at",
      problem: "is required (when the coordinator took the reading)",
    };
  }
  if (sample.busySlots > sample.totalSlots) {
    return {
      kind: "invalid",
      field: "sample.busy_slots",
      problem: `is ${sample.busySlots}, more than total_slots ${sample.totalSlots}`,
    };
  }
  return {
    kind: "valid",
    record: {
      observedAtMs: timestampMs(sample.observedAt),
      workers: sample.workers,
      totalSlots: sample.totalSlots,
      busySlots: sample.busySlots,
      pendingTasks: sample.pendingTasks,
      meanCpuUtilization: sample.meanCpuUtilization,
      arrivalRatePerSec: sample.arrivalRatePerSec,
      completionRatePerSec: sample.completionRatePerSec,
    },
  };
}
