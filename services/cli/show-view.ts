// The read-only commands (status, workers, tasks, scale status and history)
// print one reading, or with --watch a reading per interval until Ctrl-C,
// which ends the watch with exit code 0.
import { adminClient, type AdminClient, type AdminTarget } from "./admin-client.js";
import type { OutputFormat } from "./option-parsers.js";
import { readingText, type Reading } from "./reading.js";
import { watchLoop } from "./watch-loop.js";
import { createWatchScreen, type WatchStream } from "./watch-screen.js";

export interface ViewOptions {
  readonly target: AdminTarget;
  readonly format: OutputFormat;
  /** Undefined: print once. */
  readonly watch: { readonly intervalSec: number } | undefined;
  /** What is watched, for the header of each refresh: "scalemesh status". */
  readonly title: string;
}

export type ReadView = (client: AdminClient, signal?: AbortSignal) => Promise<Reading>;

export async function showView(
  options: ViewOptions,
  read: ReadView,
  out: (text: string) => void,
  stream: WatchStream = process.stdout,
): Promise<void> {
  const client = adminClient(options.target);
  try {
    if (options.watch === undefined) return out(readingText(await read(client), options.format));
    const screen = createWatchScreen(stream, {
      format: options.format,
      title: options.title,
      coordinator: options.target.coordinator,
      intervalSec: options.watch.intervalSec,
    });
    const stop = new AbortController();
    const onInterrupt = (): void => stop.abort();
    process.once("SIGINT", onInterrupt);
    try {
      await watchLoop({
        read: (signal) => read(client, signal),
        draw: (frame) => screen.draw(frame),
        intervalMs: options.watch.intervalSec * 1000,
        signal: stop.signal,
      });
    } finally {
      process.removeListener("SIGINT", onInterrupt);
    }
  } finally {
    client.close();
  }
}
