import { expect, it } from 'vitest';
import { reconcileCommand } from '../../runtime/billing-cli.ts';
import { ConfigError } from '../../runtime/config.ts';

it('billing reconcile refuses a day that does not exist before opening any storage (PostgreSQL would refuse it with a stack trace)', async () => {
  await expect(reconcileCommand({ from: '2026-02-30', to: '2026-03-01' })).rejects.toBeInstanceOf(ConfigError);
  await expect(reconcileCommand({ from: '2026-04-01', to: '2026-04-31' })).rejects.toThrow(/--to must be a day/);
});
