import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

export const ROOT = path.resolve(import.meta.dirname, '../..');

/** Settings the CLI reads that a test gives it explicitly, never inherited from the test's own environment. */
const STORAGE_VARS = ['DATABASE_URL', 'EVENTSTORE_URL', 'EVENT_STORE', 'EVENT_STORE_SCHEMA', 'READ_MODEL_SCHEMA', 'DATA_DIR', 'ENCRYPTION_KEY', 'PORT', 'OPERATOR_API_KEY', 'ORGO_API_KEY', 'BUS', 'KAFKA_BROKERS'];

/** This process's environment without the storage settings. */
export const inheritedEnv = (): Record<string, string> =>
  Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined && !STORAGE_VARS.includes(e[0])));

/** `openclaw-service <args>` with only the given settings; its exit code and everything it printed. */
export const runCli = async (args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> => {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'runtime/cli.ts', ...args], {
      cwd: ROOT,
      env: { ...inheritedEnv(), LOG_LEVEL: 'warn', ...env },
      timeout: 240_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
};
