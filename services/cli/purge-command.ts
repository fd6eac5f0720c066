// `scalemesh purge`: delete final tasks that finished before a cut-off. It
// purges in slices, from the oldest task in the ledger up to the cut-off, so
// the count of rows removed grows as it goes (shown on a terminal) and no one
// call holds the coordinator's ledger for the whole deletion. The last slice
// ends at the cut-off itself, so the tasks deleted are exactly those one call
// would have deleted.
import { create } from "@bufbuild/protobuf";
import { timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import { PurgeTasksResponseSchema } from "../../libs/contracts/index.js";
import { ConnectError, toConnectError } from "../../libs/rpc/index.js";
import { withAdminClient, type AdminTarget } from "./admin-client.js";
import type { OutputFormat } from "./option-parsers.js";
import type { Progress } from "./progress.js";
import { documentOf, readingText } from "./reading.js";

export const PURGE_SLICES = 10;

/** Ascending cut-offs ending at `cutoffMs`: one when nothing is older than it. */
export function purgeCutoffs(
  oldestCreatedMs: number | undefined,
  cutoffMs: number,
  slices: number,
): number[] {
  if (oldestCreatedMs === undefined || oldestCreatedMs >= cutoffMs || slices <= 1)
    return [cutoffMs];
  const stepMs = (cutoffMs - oldestCreatedMs) / slices;
  return Array.from({ length: slices }, (_, i) =>
    i === slices - 1 ? cutoffMs : Math.floor(oldestCreatedMs + stepMs * (i + 1)),
  );
}

export async function purgeTasks(
  target: AdminTarget,
  options: { readonly olderThanMs: number; readonly format: OutputFormat },
  out: (text: string) => void,
  progress: Progress,
): Promise<void> {
  await withAdminClient(target, async (client) => {
    const cutoffMs = Date.now() - options.olderThanMs;
    // A task finishes after it is created, so none finished before the oldest was created.
    const oldest = (await client.listTasks({ pageSize: 1 })).tasks[0]?.createdAt;
    const cutoffs = purgeCutoffs(oldest && timestampMs(oldest), cutoffMs, PURGE_SLICES);
    let purged = 0n;
    try {
      for (const [i, sliceMs] of cutoffs.entries()) {
        progress.show(
          `purging: ${purged} final task(s) removed (slice ${i + 1} of ${cutoffs.length})`,
        );
        purged += (await client.purgeTasks({ finishedBefore: timestampFromMs(sliceMs) })).purged;
      }
    } catch (error) {
      // The slices before the failure stay purged: say how many, not just that it failed.
      const status = toConnectError(error);
      throw new ConnectError(
        `${status.rawMessage} (after ${purged} final task(s) were purged)`,
        status.code,
      );
    } finally {
      progress.clear();
    }
    out(
      readingText(
        {
          document: documentOf(
            PurgeTasksResponseSchema,
            create(PurgeTasksResponseSchema, { purged }),
          ),
          table: `purged ${purged} final task(s) that finished more than ${options.olderThanMs / 1000} s ago`,
        },
        options.format,
      ),
    );
  });
}
