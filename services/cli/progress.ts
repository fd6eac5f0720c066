// The progress line of a long operation (drain, scale to N, purge): one line
// on stderr, rewritten in place, on a terminal only. Piped or redirected, it
// stays quiet, so scripts see just the result on stdout.
export interface ProgressStream {
  readonly isTTY?: boolean;
  readonly columns?: number;
  write(text: string): unknown;
}

export interface Progress {
  /** Replaces the line with `text`. */
  show(text: string): void;
  /** Takes the line away again (the result follows on stdout). */
  clear(): void;
}

const RETURN_AND_CLEAR_LINE = "\r\u001b[K";

export function createProgress(stream: ProgressStream): Progress {
  if (!stream.isTTY) return { show() {}, clear() {} };
  let isShown = false;
  return {
    show(text) {
      // One character short of the width: a line that fills it would wrap, and \r could not reach its start.
      const width = stream.columns !== undefined && stream.columns > 1 ? stream.columns - 1 : 0;
      stream.write(`${RETURN_AND_CLEAR_LINE}${width > 0 ? text.slice(0, width) : text}`);
      isShown = true;
    },
    clear() {
      if (isShown) stream.write(RETURN_AND_CLEAR_LINE);
      isShown = false;
    },
  };
}

export const stderrProgress = (): Progress => createProgress(process.stderr);
