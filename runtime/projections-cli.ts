import { SingleBar } from 'cli-progress';
import { migrateReadModels } from '../adapters/projections/projector.ts';
import { rebuildProjections } from '../adapters/projections/rebuild.ts';
import { projectionStatus } from '../adapters/projections/status.ts';
import { PROJECTIONS, projectionNamed } from '../projections/index.ts';
import { ConfigError, loadConfig } from './config.ts';
import { loadMasterKeys } from './encryption.ts';
import { openStorage } from './stores.ts';
import type { Storage } from './stores.ts';

const context = (storage: Storage, schema: string) => ({
  async status(json: boolean) {
    const rows = await projectionStatus(storage.db, storage.store, { schema, projections: PROJECTIONS });
    if (json) return void process.stdout.write(`${JSON.stringify(rows)}\n`);
    process.stdout.write(`${'projection'.padEnd(16)}${'position'.padStart(22)}${'lag (events)'.padStart(14)}${'lag (s)'.padStart(10)}\n`);
    for (const r of rows)
      process.stdout.write(`${r.name.padEnd(16)}${(r.position ?? '—').padStart(22)}${String(r.lagEvents).padStart(14)}${r.lagSeconds.toFixed(1).padStart(10)}\n`);
  },
  async rebuild(name: string | undefined) {
    const chosen = name === undefined ? PROJECTIONS : [projectionNamed(name)].filter((p) => p !== undefined);
    if (chosen.length === 0) throw new ConfigError(`unknown projection "${name}"; known: ${PROJECTIONS.map((p) => p.name).join(', ')}`);
    const total = await storage.store.countAfter(undefined);
    const bar = new SingleBar({ format: 'rebuild {bar} {percentage}% | {value}/{total} events | {rate} events/s', stream: process.stderr });
    bar.start(total, 0, { rate: 0 });
    const started = performance.now();
    const result = await rebuildProjections({
      db: storage.db,
      store: storage.store,
      codec: storage.codec,
      schema,
      projections: chosen,
      onProgress: (p) => bar.update(Math.min(p.applied, total), { rate: Math.round(p.applied / ((performance.now() - started) / 1000)) }),
    });
    bar.stop();
    process.stdout.write(`rebuilt ${chosen.map((p) => p.name).join(', ')}: ${result.applied} events in ${result.seconds.toFixed(1)} s (${Math.round(result.applied / result.seconds)} events/s), swapped in\n`);
  },
});

/** Opens the configured storage for a one-shot command (stop the embedded server first: PGlite has one writer). */
export const withStorage = async (work: (ctx: ReturnType<typeof context>) => Promise<void>) => {
  const config = loadConfig();
  // Status and rebuild decode events without decrypting them: no master key needed.
  const storage = await openStorage(config, 'cli', { master: await loadMasterKeys(config, 'optional') });
  try {
    await migrateReadModels(storage.db, config.READ_MODEL_SCHEMA, PROJECTIONS);
    await work(context(storage, config.READ_MODEL_SCHEMA));
  } finally {
    await storage.close();
  }
};
