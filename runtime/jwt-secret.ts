import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

export const JWT_SECRET_FILE = 'jwt-secret';

/**
 * The embedded default's JWT signing secret (HS256), kept in DATA_DIR/jwt-secret (mode 0600) like
 * the operator key, so tokens issued before a restart still verify after it. Only when the
 * environment configures no JWT key of its own (JWT_SECRET, or JWT_ALG other than HS256).
 */
export const withJwtSecret = async (dataDir: string, env: Record<string, string | undefined>): Promise<Record<string, string | undefined>> => {
  if (env.JWT_SECRET || env.JWT_PRIVATE_KEYS || (env.JWT_ALG && env.JWT_ALG !== 'HS256')) return env;
  const file = path.join(dataDir, JWT_SECRET_FILE);
  let secret = await readFile(file, 'utf8').then((s) => s.trim(), () => '');
  if (secret.length < 32) {
    secret = randomBytes(48).toString('base64url');
    await mkdir(dataDir, { recursive: true });
    await writeFile(file, `${secret}\n`, { mode: 0o600 });
  }
  return { ...env, JWT_SECRET: secret };
};
