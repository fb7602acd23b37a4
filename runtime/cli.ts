import { hasCode } from '../domain/shared/errors.ts';
import { program } from './cli-program.ts';
import { ConfigError } from './config.ts';

program.parseAsync(process.argv).catch((error: unknown) => {
  if (error instanceof ConfigError || hasCode(error, 'malformed_file') || hasCode(error, 'malformed_digest') || hasCode(error, 'digest_inconsistent') || hasCode(error, 'store_not_empty') || hasCode(error, 'chain_broken')) {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exit(2);
  }
  if (error instanceof Error && error.constructor.name === 'ApiFailure') {
    process.stderr.write(`openclaw-service: ${error.message}\n`);
    process.exit(1);
  }
  process.stderr.write(`openclaw-service: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
