import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { authConfigSchema } from '../adapters/auth/config.ts';
import { mintApiKey, parseApiKey } from '../commands/tenants/api-keys.ts';
import { ConfigError } from './config.ts';

/**
 * The embedded default's operator credential: OPERATOR_API_KEY when set, otherwise one minted on
 * first start and kept in DATA_DIR/operator-key (mode 0600). `created` tells the caller to show it.
 */
export const loadOrCreateOperatorKey = async (
  dataDir: string,
  configured: string | undefined,
): Promise<{ key: string; created: boolean; file: string | undefined }> => {
  if (configured) return { key: configured, created: false, file: undefined };
  const file = path.join(dataDir, 'operator-key');
  const existing = await readFile(file, 'utf8').then((s) => s.trim(), () => undefined);
  if (existing && parseApiKey(existing)) {
    const checked = authConfigSchema.shape.OPERATOR_API_KEY.safeParse(existing);
    if (!checked.success) throw new ConfigError(`${file}: the operator key there ${checked.error.issues[0]!.message}; delete the file to have one minted`);
    return { key: existing, created: false, file };
  }
  const { key } = mintApiKey();
  await mkdir(dataDir, { recursive: true });
  await writeFile(file, `${key}\n`, { mode: 0o600 });
  return { key, created: true, file };
};
