import path from 'node:path';
import { Command } from 'commander';
import { ConfigError, loadConfig } from './config.ts';
import { MASTER_KEY_FILE } from './encryption.ts';
import { createLogger } from './logger.ts';
import { stopOnSignals } from './signals.ts';
import type { AgentBridgeFlags } from './agent-bridge.ts';

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
  const log = createLogger(config.LOG_LEVEL);
  const running = await startRoles(names.filter(isRoleName), config, log);
  stopOnSignals(running.stop, log);
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
    const log = createLogger(process.env.LOG_LEVEL || 'info');
    const bridge = await runAgentBridge(flags, process.env, log);
    stopOnSignals(bridge.stop, log);
    process.stdout.write('agent-bridge running\n');
    process.exitCode = await bridge.exitCode;
    if (process.exitCode !== 0) process.exit(process.exitCode);
  });

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

program.parseAsync(process.argv).catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`openclaw-service: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
