// What a heartbeat says: the worker's load when it changed since the previous
// heartbeat on this session, or `unchanged` alone when it did not. The
// coordinator keeps what it last heard and tells no balancer about an
// unchanged one, so an idle fleet costs a few bytes per worker per interval.
// CPU and memory move a little on every sample; only a move past these
// thresholds is news (measured against what was last sent, so drift adds up).
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { HeartbeatSchema } from "../contracts/index.js";

/** A move of CPU use by this fraction of a core is news. */
export const CPU_NEWS_DELTA = 0.05;
/** A move of RSS by this fraction of the last reported value is news... */
export const MEMORY_NEWS_RATIO = 0.05;
/** ...and by at least this many bytes. */
export const MEMORY_NEWS_MIN_BYTES = 4n * 1024n * 1024n;

export interface WorkerLoad {
  readonly runningTaskIds: readonly string[];
  readonly freeSlots: number;
  readonly cpuUtilization: number;
  readonly memoryRssBytes: bigint;
  readonly draining: boolean;
}

export type HeartbeatInit = MessageInitShape<typeof HeartbeatSchema>;

export interface HeartbeatNews {
  /** The heartbeat to send now; `isForced` sends the full load whatever changed. */
  next(load: WorkerLoad, isForced: boolean): HeartbeatInit;
}

/** One per session: the first heartbeat on it carries the full load. */
export function createHeartbeatNews(): HeartbeatNews {
  let sent: WorkerLoad | undefined;
  return {
    next(load, isForced) {
      if (!isForced && sent && !isNews(sent, load)) return { unchanged: true };
      sent = { ...load, runningTaskIds: [...load.runningTaskIds] };
      return { ...load, runningTaskIds: [...load.runningTaskIds] };
    },
  };
}

function isNews(sent: WorkerLoad, now: WorkerLoad): boolean {
  if (sent.freeSlots !== now.freeSlots || sent.draining !== now.draining) return true;
  if (!sameIds(sent.runningTaskIds, now.runningTaskIds)) return true;
  // (less a hair: 0.15 - 0.1 is 0.04999... in floating point)
  if (Math.abs(sent.cpuUtilization - now.cpuUtilization) >= CPU_NEWS_DELTA - 1e-9) return true;
  const memoryMove =
    now.memoryRssBytes > sent.memoryRssBytes
      ? now.memoryRssBytes - sent.memoryRssBytes
      : sent.memoryRssBytes - now.memoryRssBytes;
  const ratioBytes = (sent.memoryRssBytes * BigInt(Math.round(MEMORY_NEWS_RATIO * 1000))) / 1000n;
  return memoryMove >= (ratioBytes > MEMORY_NEWS_MIN_BYTES ? ratioBytes : MEMORY_NEWS_MIN_BYTES);
}

function sameIds(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const inA = new Set(a);
  return b.every((id) => inA.has(id));
}
