import { defaultReconcileDays, reconcileUsage } from '../adapters/billing/reconcile.ts';
import { createBillingTables } from '../adapters/billing/tables.ts';
import { migrateReadModels } from '../adapters/projections/projector.ts';
import { PROJECTIONS } from '../projections/index.ts';
import { ConfigError, isCalendarDay, loadConfig } from './config.ts';
import { loadMasterKeys } from './encryption.ts';
import { openStorage } from './stores.ts';


/**
 * `openclaw-service billing reconcile`: what Stripe accepted against the usage read model, per
 * tenant and day. Prints every difference with what is still pending; exit code 0 either way
 * (differences are a report, not a failure of the command).
 */
export const reconcileCommand = async (options: { from?: string; to?: string; json?: boolean }) => {
  const days = defaultReconcileDays(Date.now());
  const fromDay = options.from ?? days.fromDay;
  const toDay = options.to ?? days.toDay;
  for (const [name, day] of [['--from', fromDay], ['--to', toDay]] as const)
    if (!isCalendarDay(day)) throw new ConfigError(`${name} must be a day as YYYY-MM-DD, got ${JSON.stringify(day)}`);
  if (fromDay > toDay) throw new ConfigError('--from must not be after --to');
  const config = loadConfig();
  const storage = await openStorage(config, 'cli', { master: await loadMasterKeys(config, 'optional') });
  try {
    await migrateReadModels(storage.db, config.READ_MODEL_SCHEMA, PROJECTIONS);
    await createBillingTables(storage.db, config.EVENT_STORE_SCHEMA, 'cli');
    const result = await reconcileUsage({ db: storage.db, eventSchema: config.EVENT_STORE_SCHEMA, readModelSchema: config.READ_MODEL_SCHEMA, fromDay, toDay });
    if (options.json) return void process.stdout.write(`${JSON.stringify(result)}\n`);
    process.stdout.write(`usage ${fromDay} … ${toDay}: ${result.tenantDays} tenant-days, ${result.differences.length} differences\n`);
    if (result.differences.length === 0) return;
    process.stdout.write(`${'tenant'.padEnd(42)}${'day'.padEnd(12)}${'meter'.padEnd(16)}${'used'.padStart(10)}${'reported'.padStart(10)}${'pending'.padStart(10)}${'refused'.padStart(10)}${'undecided'.padStart(10)}\n`);
    for (const d of result.differences)
      process.stdout.write(`${d.tenantId.padEnd(42)}${d.day.padEnd(12)}${d.meter.padEnd(16)}${String(d.used).padStart(10)}${String(d.reported).padStart(10)}${String(d.pending).padStart(10)}${String(d.refused).padStart(10)}${String(d.undecided).padStart(10)}\n`);
  } finally {
    await storage.close();
  }
};
