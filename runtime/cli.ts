import { hasCode } from '../domain/shared/errors.ts';
import { program } from './cli-program.ts';
import { ConfigError } from './config.ts';

/** Refusals of the operator's input: one line, exit 2. The code is stable for scripts; the text is for people. */
const REFUSALS = ['malformed_file', 'malformed_digest', 'digest_inconsistent', 'store_not_empty', 'chain_broken'] as const;

program.parseAsync(process.argv).catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  const refusal = REFUSALS.find((code) => hasCode(error, code));
  if (refusal) {
    process.stderr.write(`${(error as Error).message} (${refusal})\n`);
    process.exit(2);
  }
  if (error instanceof Error && error.constructor.name === 'ApiFailure') {
    process.stderr.write(`openclaw-service: ${error.message}\n`);
    process.exit(1);
  }
  process.stderr.write(`openclaw-service: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
