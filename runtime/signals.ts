import type { Logger } from './logger.ts';

/**
 * Ctrl-C or SIGTERM stops cleanly; another one more than a second later exits at once (a wrapper
 * that relays the terminal's Ctrl-C can deliver the same press twice).
 */
export const stopOnSignals = (stop: () => Promise<void>, log: Logger) => {
  let signalledAt: number | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalledAt !== undefined) {
      if (Date.now() - signalledAt < 1_000) return;
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(130);
    }
    signalledAt = Date.now();
    log.info({ signal }, 'stopping');
    stop().then(
      () => process.exit(0),
      (error: unknown) => {
        log.error({ err: error }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
};
