import path from 'node:path';
import { Command } from 'commander';
import { ConfigError, loadConfig } from './config.ts';
import { MASTER_KEY_FILE } from './encryption.ts';
import { createLogger } from './logger.ts';
import { stopOnSignals } from './signals.ts';
import { prepareProcess } from './process-setup.ts';

const program = new Command('openclaw-service').description('OpenClaw-as-a-Service control plane');

program
  .command('dev')
  .description('every role in one process on embedded PostgreSQL (PGlite) in DATA_DIR')
  .action(async () => {
    const config = loadConfig();
    const setup = await prepareProcess(config, 'dev');
    const { checkHttpApiConfig } = await import('./api-role.ts');
    checkHttpApiConfig(process.env);
    const { checkSagaConfig } = await import('./saga.ts');
    checkSagaConfig(process.env);
    const log = createLogger(config.LOG_LEVEL, setup.logFormat);
    const { startDev } = await import('./dev.ts');
    const platform = await startDev(config, log);
    stopOnSignals(setup.stopping(platform.stop), log);
    const { operatorKey: op } = platform;
    const keyLine = op.created
      ? `operator:  ${op.key}\n             (created now and kept in ${op.file}; it is not shown again)`
      : `operator:  ${op.file ? `key in ${op.file}` : 'OPERATOR_API_KEY'}`;
    process.stdout.write(
      `\nOpenClaw Service is running.\n  api:       ${platform.http.url}/api/v1  (OpenAPI: ${platform.http.url}/openapi.json)\n` +
        `  health:    ${platform.http.url}/healthz\n  ${keyLine}\n  storage:   ${platform.storage.describe}\n` +
        `  keys:      ${config.ENCRYPTION_KEY ? 'master key from ENCRYPTION_KEY' : `master key in ${path.join(config.DATA_DIR, MASTER_KEY_FILE)} (personal data is unreadable without it)`}\n` +
        `  vms:       ${platform.orgo?.describe ?? 'none'}${platform.orgo?.simulator ? ' (ORGO_API_KEY is unset: nothing is really created)' : ''}\n` +
        `${platform.relay ? `  ${platform.relay}\n` : ''}  stop:      Ctrl-C\n\n`,
    );
  });

/** Runs roles in this process until SIGINT/SIGTERM; one line per role on stdout once it is up. */
const runRoles = async (names: readonly string[]) => {
  const { ROLE_NAMES, isRoleName, startRoles } = await import('./roles.ts');
  const unknown = names.filter((n) => !isRoleName(n));
  if (unknown.length > 0 || names.length === 0)
    throw new ConfigError(`unknown role(s): ${unknown.join(', ') || '(none given)'}; roles: ${ROLE_NAMES.join(', ')}`);
  const config = loadConfig();
  const setup = await prepareProcess(config, names.join('+'));
  const log = createLogger(config.LOG_LEVEL, setup.logFormat);
  const running = await startRoles(names.filter(isRoleName), config, log);
  stopOnSignals(setup.stopping(running.stop), log);
  process.stdout.write(running.banners.map((b) => `${b}\n`).join(''));
};

program
  .command('start')
  .description('run the given roles in one process (api, projector, relay, saga), e.g. --roles api,relay')
  .requiredOption('--roles <list>', 'comma-separated roles')
  .action(async (options: { roles: string }) => runRoles(options.roles.split(',').map((r) => r.trim()).filter(Boolean)));

program
  .command('api')
  .description('serve the HTTP API against DATABASE_URL (production: as many as needed); its projector runs where PROJECTOR_MODE says')
  .action(() => runRoles(['api']));

program
  .command('projector')
  .description('run only the projector role (production: one or more per deployment)')
  .action(() => runRoles(['projector']));

program
  .command('relay')
  .description('run only the relay role: every stored event to the Kafka topic (KAFKA_BROKERS), from its checkpoint')
  .action(() => runRoles(['relay']));

program
  .command('saga')
  .description('run only the provisioning saga: agent VMs and knights on Orgo (needs DATABASE_URL, ENCRYPTION_KEY and ORGO_API_KEY)')
  .action(() => runRoles(['saga']));

program
  .command('bus')
  .command('status [consumers...]')
  .description("the relay's lag behind the store, and each named bus consumer's lag per partition")
  .option('--json', 'print JSON')
  .action(async (consumers: string[], options: { json?: boolean }) => {
    const { busStatus } = await import('./bus-cli.ts');
    await busStatus(consumers, options.json === true);
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

program
  .command('migrate')
  .description("create or update the event store's and the read models' schemas (idempotent; roles do it too when they start)")
  .action(async () => (await import('./ops-cli.ts')).migrate());

program
  .command('status')
  .description('at a glance: the log head, each projection and the relay (from the storage), or a running server\'s readiness checks (--url)')
  .option('--url <url>', 'a running server, e.g. http://127.0.0.1:8080 (its /readyz)')
  .option('--json', 'print JSON')
  .action(async (options: { url?: string; json?: boolean }) => {
    process.exitCode = await (await import('./ops-cli.ts')).status({ ...(options.url ? { url: options.url } : {}), json: options.json === true });
  });

program
  .command('config')
  .description('the effective configuration: every variable with its value or default, secrets masked')
  .option('--json', 'print JSON')
  .action(async (options: { json?: boolean }) => (await import('./ops-cli.ts')).showConfig(options.json === true));

const overApi = (command: Command) =>
  command
    .option('--url <url>', 'the running server (default OPENCLAW_URL, else http://HOST:PORT of this configuration)')
    .option('--operator-key <key>', 'operator key (default OPERATOR_API_KEY, else DATA_DIR/operator-key)')
    .option('--json', 'print JSON');

overApi(
  program
    .command('onboard')
    .description("create a tenant on a running server and print its first API key (once)")
    .requiredOption('--name <name>', "the tenant's name")
    .requiredOption('--email <email>', 'contact email')
    .option('--tier <tier>', 'free, pro or enterprise', 'free')
    .option('--slug <slug>', 'the tenant id (default: from the name)'),
).action(async (options: { name: string; email: string; tier: string; slug?: string; url?: string; operatorKey?: string; json?: boolean }) => {
  const { onboard, targetOf } = await import('./tenant-cli.ts');
  await onboard(await targetOf(options), { ...options, json: options.json === true });
});

overApi(
  program
    .command('deploy-knight')
    .description('deploy a knight for a tenant on a running server and follow it until its computer runs (exit 0) or it fails (exit 1)')
    .requiredOption('--tenant <slug>', 'the tenant')
    .requiredOption('--task <text>', 'what the knight is to do')
    .option('--timeout <seconds>', 'give up after this long (exit 1)', '600'),
).action(async (options: { tenant: string; task: string; timeout: string; url?: string; operatorKey?: string; json?: boolean }) => {
  const { deployKnight, targetOf } = await import('./tenant-cli.ts');
  process.exitCode = await deployKnight(await targetOf(options), { ...options, timeoutSeconds: Number(options.timeout), json: options.json === true });
});

program.parseAsync(process.argv).catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  if (error instanceof Error && error.constructor.name === 'ApiFailure') {
    process.stderr.write(`openclaw-service: ${error.message}\n`);
    process.exit(1);
  }
  process.stderr.write(`openclaw-service: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
