import { inspect } from 'node:util';
import { expect } from 'vitest';

/** Every way an error could reach a log line or a response: none may show a secret. */
export const expectNoSecretIn = (error: unknown, secrets: readonly string[]) => {
  const renderings = [
    String(error),
    (error as Error).stack ?? '',
    JSON.stringify(error),
    inspect(error, { depth: 10 }),
    JSON.stringify((error as { details?: unknown }).details),
  ];
  for (const secret of secrets) for (const text of renderings) expect(text).not.toContain(secret);
};

/** The error a promise rejects with (the test fails if it resolves). */
export const failureOf = async (promise: Promise<unknown>): Promise<Error & { code: string; kind: string; details: Record<string, unknown> }> => {
  try {
    await promise;
  } catch (error) {
    return error as Error & { code: string; kind: string; details: Record<string, unknown> };
  }
  throw new Error('expected the call to fail, but it succeeded');
};
