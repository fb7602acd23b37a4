import { loadConfig } from './config.ts';
import { loadStorageMasterKeys } from './encryption.ts';
import { openStorage } from './stores.ts';

/**
 * `keys rewrap`: every tenant data key wrapped by a previous master key is wrapped again by
 * ENCRYPTION_KEY. No event and no read-model row changes; afterwards the previous keys can go.
 */
export const rewrapKeys = async (): Promise<void> => {
  const config = loadConfig();
  const storage = await openStorage(config, 'cli', { master: await loadStorageMasterKeys(config) });
  try {
    const { rewrapped } = await storage.keys!.rewrap();
    process.stdout.write(`re-wrapped ${rewrapped} data key${rewrapped === 1 ? '' : 's'} under the current master key; no event was touched\n`);
  } finally {
    await storage.close();
  }
};
