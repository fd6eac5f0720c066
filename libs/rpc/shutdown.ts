// Graceful stop on SIGTERM/SIGINT: run the service's stop once, exit 0; a
// second signal exits at once (status 130) for an operator who means it.
import type { Logger } from "pino";

export function stopOnSignals(stop: () => Promise<void>, logger: Logger): void {
  let stopping = false;
  // Logging must not be able to stand between a signal and the stop.
  const log = (write: () => void): void => {
    try {
      write();
    } catch {
      // stdout gone; carry on
    }
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      log(() => logger.warn({ signal }, "second signal: exiting now"));
      process.exit(130);
    }
    stopping = true;
    log(() => logger.info({ signal }, "stopping gracefully"));
    stop().then(
      () => {
        log(() => logger.info("stopped"));
        log(() => logger.flush());
        process.exit(0);
      },
      (error: unknown) => {
        log(() => logger.error({ err: error }, "graceful stop failed"));
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
}
