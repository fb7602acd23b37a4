import { Command } from 'commander';
import { ConfigError, loadConfig } from './config.ts';
import { startDev, stopOnSignals } from './dev.ts';
import { createLogger } from './logger.ts';

const program = new Command('openclaw-service').description('OpenClaw-as-a-Service control plane');

program
  .command('dev')
  .description('every role in one process on embedded PostgreSQL (PGlite) in DATA_DIR')
  .action(async () => {
    const config = loadConfig();
    const log = createLogger(config.LOG_LEVEL);
    const platform = await startDev(config, log);
    stopOnSignals(platform.stop, log);
    process.stdout.write(`\nOpenClaw Service is running.\n  health:    ${platform.http.url}/healthz\n  storage:   ${platform.storage.describe}\n  stop:      Ctrl-C\n\n`);
  });

program.parseAsync(process.argv).catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`openclaw-service: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
