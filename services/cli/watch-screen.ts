// How --watch shows each refresh. On a terminal the frame is redrawn in
// place (cursor home, every line cleared to its end, the rest of the screen
// cleared), cut to the window so the redraw never scrolls; elsewhere (a pipe,
// a file) each refresh is a plain new block. JSON is one object per line,
// on a terminal or not.
import type { ConnectError } from "../../libs/rpc/index.js";
import { statusName } from "./coordinator-loss.js";
import type { OutputFormat } from "./option-parsers.js";
import { readingText, type Reading } from "./reading.js";

export type WatchFrame =
  | { readonly kind: "reading"; readonly reading: Reading; readonly atMs: number }
  | {
      readonly kind: "lost";
      readonly error: ConnectError;
      readonly atMs: number;
      /** The last reading that came through, if any. */
      readonly last: { readonly reading: Reading; readonly atMs: number } | undefined;
    };

export interface WatchStream {
  readonly isTTY?: boolean;
  readonly rows?: number;
  readonly columns?: number;
  write(text: string): unknown;
}

export interface WatchScreenOptions {
  readonly format: OutputFormat;
  /** What is watched, for the header: "scalemesh status". */
  readonly title: string;
  readonly coordinator: string;
  readonly intervalSec: number;
}

const ESC = "\u001b[";
const CLEAR_SCREEN = `${ESC}2J`;
const CURSOR_HOME = `${ESC}H`;
const CLEAR_TO_LINE_END = `${ESC}K`;
const CLEAR_TO_SCREEN_END = `${ESC}J`;

export function createWatchScreen(
  stream: WatchStream,
  options: WatchScreenOptions,
): { draw(frame: WatchFrame): void } {
  let isFirst = true;
  return {
    draw(frame) {
      if (options.format === "json") {
        stream.write(`${frameJsonLine(frame, options.coordinator)}\n`);
        return;
      }
      const lines = frameLines(frame, { ...options, isTty: stream.isTTY === true });
      stream.write(
        stream.isTTY
          ? redrawInPlace(lines, { isFirst, rows: stream.rows, columns: stream.columns })
          : `${isFirst ? "" : "\n"}${lines.join("\n")}\n`,
      );
      isFirst = false;
    },
  };
}

const clockOf = (atMs: number): string => new Date(atMs).toISOString().slice(11, 19);

/** A table frame: a header line, then the reading, or what went wrong and the last reading. */
export function frameLines(
  frame: WatchFrame,
  options: WatchScreenOptions & { readonly isTty: boolean },
): string[] {
  const header = `${options.title} every ${options.intervalSec} s, at ${clockOf(frame.atMs)}${options.isTty ? " (Ctrl-C ends)" : ""}`;
  if (frame.kind === "reading") return [header, "", ...frame.reading.table.split("\n")];
  const lost = [
    header,
    "",
    `lost the coordinator at ${options.coordinator}: ${frame.error.rawMessage} (${statusName(frame.error.code)}); trying again every ${options.intervalSec} s`,
  ];
  if (frame.last === undefined) return lost;
  return [
    ...lost,
    "",
    `the last reading, from ${clockOf(frame.last.atMs)}:`,
    ...frame.last.reading.table.split("\n"),
  ];
}

/** A JSON frame: the reading's document, or {"error": ...} when the coordinator is lost. */
export function frameJsonLine(frame: WatchFrame, coordinator: string): string {
  if (frame.kind === "reading") return readingText(frame.reading, "json", true);
  return JSON.stringify({
    error: {
      code: statusName(frame.error.code),
      message: frame.error.rawMessage,
      coordinator,
      at: new Date(frame.atMs).toISOString(),
    },
  });
}

/** The escape sequences that redraw `lines` over the previous frame without flicker or scrolling. */
export function redrawInPlace(
  lines: readonly string[],
  window: { readonly isFirst: boolean; readonly rows?: number; readonly columns?: number },
): string {
  const maxLines = window.rows !== undefined && window.rows > 1 ? window.rows - 1 : lines.length;
  const shown =
    lines.length <= maxLines
      ? lines
      : [...lines.slice(0, maxLines - 1), `… ${lines.length - maxLines + 1} more line(s)`];
  const fit = (line: string): string =>
    window.columns !== undefined && line.length > window.columns
      ? line.slice(0, window.columns)
      : line;
  return `${window.isFirst ? CLEAR_SCREEN : ""}${CURSOR_HOME}${shown.map((l) => `${fit(l)}${CLEAR_TO_LINE_END}`).join("\n")}\n${CLEAR_TO_SCREEN_END}`;
}
