import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { masterKeysFrom, masterKeyText } from '../adapters/crypto/master-keys.ts';
import type { MasterKeys } from '../adapters/crypto/master-keys.ts';
import type { Config } from './config.ts';
import { ConfigError } from './config.ts';

/**
 * Where a role's master keys come from:
 * - `required` (the api role, anything that writes): ENCRYPTION_KEY, or the process refuses to start;
 * - `embedded` (`dev`): ENCRYPTION_KEY, else a key generated once and kept in DATA_DIR/master-key (0600);
 * - `optional` (the projector, `projections …`): they decode events without decrypting anything.
 */
export type KeySource = 'required' | 'embedded' | 'optional';

export const MASTER_KEY_FILE = 'master-key';

/** The master keys a storage command needs: the embedded store keeps its own in DATA_DIR, any other needs ENCRYPTION_KEY. */
export const loadStorageMasterKeys = (config: Config): Promise<MasterKeys | undefined> =>
  loadMasterKeys(config, config.eventStore === 'pglite' ? 'embedded' : 'required');

const fromConfig = (config: Config): MasterKeys | undefined =>
  config.ENCRYPTION_KEY
    ? masterKeysFrom(config.ENCRYPTION_KEY, config.ENCRYPTION_PREVIOUS_KEYS?.split(',').filter((k) => k.trim() !== '') ?? [])
    : undefined;

export const loadMasterKeys = async (config: Config, source: KeySource): Promise<MasterKeys | undefined> => {
  const configured = fromConfig(config);
  if (configured || source === 'optional') return configured;
  if (source === 'required')
    throw new ConfigError(
      'invalid configuration: ENCRYPTION_KEY: required: 32 random bytes, base64 (e.g. `openssl rand -base64 32`); it wraps every tenant data key',
    );
  const file = path.join(config.DATA_DIR, MASTER_KEY_FILE);
  const existing = await readFile(file, 'utf8').then((s) => s.trim(), () => undefined);
  if (existing !== undefined) {
    if (!masterKeyText.safeParse(existing).success) throw new ConfigError(`${file} does not hold a 32-byte base64 master key`);
    return masterKeysFrom(existing);
  }
  const key = randomBytes(32).toString('base64');
  await mkdir(config.DATA_DIR, { recursive: true });
  await writeFile(file, `${key}\n`, { mode: 0o600, flag: 'wx' }).catch(async (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EEXIST') throw error;
  });
  return masterKeysFrom((await readFile(file, 'utf8')).trim());
};
