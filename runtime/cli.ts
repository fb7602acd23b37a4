import path from 'node:path';
import { Command } from 'commander';
import { ConfigError, loadConfig } from './config.ts';
import { MASTER_KEY_FILE } from './encryption.ts';
import { stopOnSignals } from './signals.ts';
import { createLogger } from './logger.ts';

const program = new Command('openclaw-service').description('OpenClaw-as-a-Service control plane');

program
  .command('dev')
  .description('every role in one process on embedded PostgreSQL (PGlite) in DATA_DIR')
  .action(async () => {
    const config = loadConfig();
    const { checkHttpApiConfig } = await import('./api-role.ts');
    checkHttpApiConfig(process.env);
    const { checkSagaConfig } = await import('./saga.ts');
    checkSagaConfig(process.env);
    const log = createLogger(config.LOG_LEVEL);
    const { startDev } = await import('./dev.ts');
    const platform = await startDev(config, log);
    stopOnSignals(platform.stop, log);
    const { operatorKey: op } = platform;
    const keyLine = op.created
      ? `operator:  ${op.key}\n             (created now and kept in ${op.file}; it is not shown again)`
      : `operator:  ${op.file ? `key in ${op.file}` : 'OPERATOR_API_KEY'}`;
    process.stdout.write(
      `\nOpenClaw Service is running.\n  api:       ${platform.http.url}/api/v1  (OpenAPI: ${platform.http.url}/openapi.json)\n` +
        `  health:    ${platform.http.url}/healthz\n  ${keyLine}\n  storage:   ${platform.storage.describe}\n` +
        `  keys:      ${config.ENCRYPTION_KEY ? 'master key from ENCRYPTION_KEY' : `master key in ${path.join(config.DATA_DIR, MASTER_KEY_FILE)} (personal data is unreadable without it)`}\n` +
        `  vms:       ${platform.orgo?.describe ?? 'none'}${platform.orgo?.simulator ? ' (ORGO_API_KEY is unset: nothing is really created)' : ''}\n  stop:      Ctrl-C\n\n`,
    );
  });

program
  .command('api')
  .description('serve the HTTP API against DATABASE_URL (production: as many as needed); its projector runs where PROJECTOR_MODE says')
  .action(async () => {
    const config = loadConfig();
    const { runApi } = await import('./roles.ts');
    await runApi(config, createLogger(config.LOG_LEVEL));
  });

program
  .command('projector')
  .description('run only the projector role (production: one or more per deployment)')
  .action(async () => {
    const config = loadConfig();
    const { runProjector } = await import('./roles.ts');
    await runProjector(config, createLogger(config.LOG_LEVEL));
  });

program
  .command('saga')
  .description('run only the provisioning saga: agent VMs and knights on Orgo (needs DATABASE_URL and ORGO_API_KEY)')
  .action(async () => {
    const config = loadConfig();
    const { runSaga } = await import('./saga-role.ts');
    await runSaga(config, createLogger(config.LOG_LEVEL));
  });

const projections = program.command('projections').description('read models: status and rebuild');

projections
  .command('status')
  .description("each projection's position and lag (events and seconds)")
  .option('--json', 'print JSON')
  .action(async (options: { json?: boolean }) => {
    const { withStorage } = await import('./projections-cli.ts');
    await withStorage(async (ctx) => ctx.status(options.json === true));
  });

projections
  .command('rebuild [name]')
  .description('rebuild one projection (or all) beside the live tables, then swap; the API keeps answering meanwhile')
  .action(async (name: string | undefined) => {
    const { withStorage } = await import('./projections-cli.ts');
    await withStorage(async (ctx) => ctx.rebuild(name));
  });

program
  .command('keys')
  .description('tenant data keys')
  .command('rewrap')
  .description('wrap every data key under ENCRYPTION_KEY (after a rotation; earlier keys in ENCRYPTION_PREVIOUS_KEYS); no event changes')
  .action(async () => {
    const { rewrapKeys } = await import('./keys-cli.ts');
    await rewrapKeys();
  });

program.parseAsync(process.argv).catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`openclaw-service: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
