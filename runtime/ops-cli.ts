import { migrateReadModels } from '../adapters/projections/projector.ts';
import { projectionStatus } from '../adapters/projections/status.ts';
import { relayLag } from '../adapters/relay/relay.ts';
import { PROJECTIONS } from '../projections/index.ts';
import { ConfigError, loadConfig } from './config.ts';
import { effectiveConfig } from './config-schema.ts';
import { ROLE_NAMES } from './roles.ts';
import { openStorage } from './stores.ts';
import { ApiFailure } from './tenant-cli.ts';

const print = (json: boolean, data: unknown, text: () => string) => process.stdout.write(`${json ? JSON.stringify(data) : text()}\n`);

/** `openclaw-service config`: every variable's effective value (defaults filled in), secrets masked. */
export const showConfig = (json: boolean) => {
  const config = effectiveConfig(process.env);
  print(json, config, () =>
    Object.entries(config)
      .map(([k, v]) => `${k.padEnd(34)} ${v ?? '-'}`)
      .join('\n'),
  );
};

/** `openclaw-service migrate`: the event store's and the read models' schemas, created or brought up to date. */
export const migrate = async () => {
  const config = loadConfig();
  const storage = await openStorage(config, 'cli');
  try {
    await migrateReadModels(storage.db, config.READ_MODEL_SCHEMA, PROJECTIONS);
    process.stdout.write(`migrated: event store (${storage.describe}, schema ${config.EVENT_STORE_SCHEMA}), read models (schema ${config.READ_MODEL_SCHEMA})\n`);
  } finally {
    await storage.close();
  }
};

/**
 * `openclaw-service status`: a running server's readiness checks (with --url), or — from the
 * storage — the log's head, each projection's position and lag, and the relay's lag.
 */
export const status = async (options: { url?: string; json: boolean }): Promise<number> => {
  if (options.url) {
    // one line, as every CLI failure: a bad URL, a server that is not there, an answer that is not ours
    const why = (error: unknown) => (error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error));
    let url: URL;
    try {
      url = new URL('/readyz', options.url);
    } catch {
      throw new ConfigError(`--url: an http(s) URL of a running server, got ${JSON.stringify(options.url)}`);
    }
    const res = await fetch(url).catch((error: unknown) => {
      throw new ApiFailure(`cannot reach ${options.url}: ${why(error)}`);
    });
    const body = (await res.json().catch(() => {
      throw new ApiFailure(`${url.href} answered ${res.status} with something other than a readiness report (is it this service?)`);
    })) as { status: string; checks: Record<string, { ok: boolean; detail?: string }> };
    print(options.json, body, () =>
      [`${options.url}: ${body.status}`, ...Object.entries(body.checks).map(([k, c]) => `  ${c.ok ? 'ok  ' : 'FAIL'} ${k.padEnd(32)} ${c.detail ?? ''}`)].join('\n'),
    );
    return res.ok ? 0 : 1;
  }
  const config = loadConfig();
  const storage = await openStorage(config, 'cli');
  try {
    const [head, projections, relay] = await Promise.all([
      storage.store.headPosition(),
      projectionStatus(storage.db, storage.store, { schema: config.READ_MODEL_SCHEMA, projections: PROJECTIONS }).catch(() => []),
      config.KAFKA_BROKERS ? relayLag({ store: storage.store, checkpoints: storage.checkpoints, topic: config.KAFKA_TOPIC }) : Promise.resolve(undefined),
    ]);
    const data = { storage: storage.describe, roles: ROLE_NAMES, head: head?.toString() ?? null, projections, relay: relay ?? null };
    print(options.json, data, () =>
      [
        `storage: ${storage.describe}`,
        `roles:   ${ROLE_NAMES.join(', ')}`,
        `head:    ${data.head ?? '-'}`,
        ...projections.map((p) => `  projection ${p.name.padEnd(14)} position ${(p.position ?? '-').padStart(20)}  lag ${p.lagEvents} events, ${p.lagSeconds.toFixed(1)} s`),
        ...(relay ? [`  relay → ${config.KAFKA_TOPIC}: ${relay.events} events, ${relay.seconds.toFixed(1)} s behind`] : []),
      ].join('\n'),
    );
    return 0;
  } finally {
    await storage.close();
  }
};
