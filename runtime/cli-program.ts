import path from 'node:path';
import { Command } from 'commander';
import { z } from 'zod';
import { ConfigError, loadConfig, logLevelSchema, parseEnv } from './config.ts';
import { MASTER_KEY_FILE } from './encryption.ts';
import { createLogger } from './logger.ts';
import { stopOnSignals } from './signals.ts';
import { prepareProcess } from './process-setup.ts';
import type { AgentBridgeFlags } from './agent-bridge.ts';

/**
 * Every command of `openclaw-service`, built without running any (runtime/cli.ts parses the
 * arguments; tests walk the tree for each command's help).
 */
export const program = new Command('openclaw-service').description('OpenClaw-as-a-Service control plane');

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
    (await import('./billing.ts')).billingConfigOf(process.env);
    const log = createLogger(config.LOG_LEVEL, setup.logFormat);
    const { startDev } = await import('./dev.ts');
    const platform = await startDev(config, log);
    stopOnSignals(setup.stopping(platform.stop), log);
    const { operatorKey: op } = platform;
    const keyLine = op.created
      ? `operator:  ${op.key}\n             (created now and kept in ${op.file}; it is not shown again)`
      : `operator:  ${op.file ? `key in ${op.file}` : 'OPERATOR_API_KEY'}`;
    process.stdout.write(
      `\nOpenClaw Service is running.\n  dashboard: ${platform.http.url}/\n  api:       ${platform.http.url}/api/v1  (OpenAPI: ${platform.http.url}/openapi.json)\n` +
        `  health:    ${platform.http.url}/healthz\n  ${keyLine}\n  storage:   ${platform.storage.describe}\n` +
        `  keys:      ${config.ENCRYPTION_KEY ? 'master key from ENCRYPTION_KEY' : `master key in ${path.join(config.DATA_DIR, MASTER_KEY_FILE)} (personal data is unreadable without it)`}\n` +
        `  vms:       ${platform.orgo?.describe ?? 'none'}${platform.orgo?.simulator ? ' (ORGO_API_KEY is unset: nothing is really created)' : ''}\n` +
        `  billing:   ${platform.billing}\n` +
        `  ${platform.ws}\n` +
        `${platform.relay ? `  ${platform.relay}\n` : ''}` +
        (platform.telegramDouble
          ? `  telegram:  local double at ${platform.telegramDouble.apiRoot} (TELEGRAM_API_ROOT is unset); demo bot token ${platform.telegramDouble.botToken}\n` +
            `             connect it: POST /api/v1/channels/telegram {"token": "<demo token>"}; a user writes: POST ${platform.telegramDouble.apiRoot}_double/bot<demo token>/say {"chatId": 42, "text": "hi"}\n`
          : '') +
        `  stop:      Ctrl-C\n\n`,
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
  .description('run the given roles in one process (api, projector, relay, saga, ws, bots, agents, billing), e.g. --roles api,relay')
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

const billing = program
  .command('billing')
  .description('only the billing role: Stripe customers, subscriptions and metered usage (needs DATABASE_URL, ENCRYPTION_KEY and STRIPE_SECRET_KEY)')
  .action(() => runRoles(['billing']));

billing
  .command('reconcile')
  .description('compare the usage reported to Stripe with the usage read model, per tenant and UTC day (default: yesterday and today)')
  .option('--from <day>', 'first day, YYYY-MM-DD')
  .option('--to <day>', 'last day, YYYY-MM-DD')
  .option('--json', 'print JSON')
  .action(async (options: { from?: string; to?: string; json?: boolean }) => {
    const { reconcileCommand } = await import('./billing-cli.ts');
    await reconcileCommand(options);
  });

program
  .command('bots')
  .description("run only the bots role: agents' answers to Telegram and WhatsApp (needs DATABASE_URL and ENCRYPTION_KEY)")
  .action(() => runRoles(['bots']));

program
  .command('agents')
  .description('run only agent dispatch: answers user messages, reports knights into chats, serves /bridge on AGENTS_PORT')
  .action(() => runRoles(['agents']));

program
  .command('agent-bridge')
  .description("on a tenant VM: dial out to the platform's /bridge and relay its requests to the local OpenClaw gateway")
  .option('--platform <url>', 'the platform bridge endpoint, ws(s)://…/bridge (AGENT_BRIDGE_PLATFORM_URL)')
  .option('--tenant <id>', 'the tenant this VM belongs to (AGENT_BRIDGE_TENANT)')
  .option('--token-file <path>', 'file holding the bridge token (or AGENT_BRIDGE_TOKEN)')
  .option('--gateway <url>', 'the local OpenClaw gateway (OPENCLAW_GATEWAY_URL, default http://127.0.0.1:18789)')
  .option('--gateway-token-file <path>', 'file holding the gateway token (or OPENCLAW_GATEWAY_TOKEN)')
  .action(async (flags: AgentBridgeFlags) => {
    const { runAgentBridge } = await import('./agent-bridge.ts');
    // the VM's process reads no other configuration, but LOG_LEVEL is checked as everywhere (one line, exit 2)
    const log = createLogger(parseEnv(z.object({ LOG_LEVEL: logLevelSchema }), process.env).LOG_LEVEL);
    const bridge = await runAgentBridge(flags, process.env, log);
    stopOnSignals(bridge.stop, log);
    process.stdout.write('agent-bridge running\n');
    process.exitCode = await bridge.exitCode;
    if (process.exitCode !== 0) process.exit(process.exitCode);
  });

program
  .command('ws')
  .description("run only the WebSocket pushers: /ws/tenant/{id} on PORT (needs DATABASE_URL, ENCRYPTION_KEY and the api role's JWT keys)")
  .action(() => runRoles(['ws']));

program
  .command('bus')
  .description('the event bus (BUS): how far its readers are behind')
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

const audit = program.command('audit').description("auditors: a tenant's history with hashes, chain verification, state as of a point (docs/audit.md)");

audit
  .command('export')
  .description("write a tenant's events (all its streams, log order, data as stored, with hashes) to an NDJSON file, and the digest of a full export beside it")
  .requiredOption('--tenant <id>', 'the tenant')
  .option('--from <position>', 'first log position (inclusive)')
  .option('--to <position>', 'last log position (inclusive)')
  .option('--out <file>', 'the file to write (default audit-<tenant>.ndjson)')
  .action(async (options: { tenant: string; from?: string; to?: string; out?: string }) => {
    const { auditExport } = await import('./audit-cli.ts');
    await auditExport(options);
  });

audit
  .command('verify')
  .description('recompute every hash chain (of the store, one tenant, or an exported file) and report the first broken link; exit code 1 if broken')
  .option('--tenant <id>', 'only this tenant (store)')
  .option('--file <file>', 'an exported file (or a backup) instead of the store')
  .option('--digest <file>', 'a digest kept earlier: also detects deleted newest events')
  .action(async (options: { tenant?: string; file?: string; digest?: string }) => {
    const { auditVerify } = await import('./audit-cli.ts');
    await auditVerify(options);
  });

audit
  .command('digest')
  .description("verify a tenant's chains and print its digest (each stream's head and a root over them) to keep elsewhere")
  .requiredOption('--tenant <id>', 'the tenant')
  .option('--out <file>', 'write it to this file instead of stdout')
  .action(async (options: { tenant: string; out?: string }) => {
    const { auditDigest } = await import('./audit-cli.ts');
    await auditDigest(options);
  });

audit
  .command('state')
  .description("a tenant's aggregates as they stood at a log position or time, folded from the log (not the read models)")
  .requiredOption('--tenant <id>', 'the tenant')
  .option('--as-of <position|time>', 'a decimal log position, an ISO 8601 time with its offset (2026-03-03T10:00:00Z) or a day (UTC midnight); default: now')
  .action(async (options: { tenant: string; asOf?: string }) => {
    const { auditState } = await import('./audit-cli.ts');
    await auditState(options);
  });

program
  .command('backup')
  .description('write the whole log (all tenants, with hashes) and every wrapped data key to one file')
  .requiredOption('--out <file>', 'the backup file')
  .action(async (options: { out: string }) => {
    const { backup } = await import('./audit-cli.ts');
    await backup(options);
  });

program
  .command('restore')
  .description('load a backup into an empty store (refused otherwise), checking every line and chain first; then start the projector to build the read models')
  .requiredOption('--file <file>', 'the backup file')
  .action(async (options: { file: string }) => {
    const { restore } = await import('./audit-cli.ts');
    await restore(options);
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
  // checked before anything is requested: a knight is a billed VM, not to be left behind by a typo
  const timeoutSeconds = Number(options.timeout);
  if (!/^\d{1,6}$/.test(options.timeout) || timeoutSeconds < 1) throw new ConfigError(`--timeout: whole seconds from 1, got ${JSON.stringify(options.timeout)}`);
  const { deployKnight, targetOf } = await import('./tenant-cli.ts');
  process.exitCode = await deployKnight(await targetOf(options), { ...options, timeoutSeconds, json: options.json === true });
});

overApi(
  program
    .command('tenants')
    .description('tenants on a running server (operator)')
    .command('list')
    .description('every tenant: id, name, tier, status, created (a table, or --json)')
    .option('--storage', "read the configured storage (DATA_DIR or DATABASE_URL) instead of a server; stop the embedded server first"),
).action(async (options: { url?: string; operatorKey?: string; json?: boolean; storage?: boolean }) => {
  const { listTenants, listTenantsFromStorage, targetOf } = await import('./tenant-cli.ts');
  if (options.storage) await listTenantsFromStorage({ json: options.json === true });
  else await listTenants(await targetOf(options), { json: options.json === true });
});

