import { describe, expect, it } from 'vitest';
import { orgoHttpError, redact } from '../../adapters/orgo/errors.ts';

/** An API key Orgo echoes back never reaches an error, not even in part (where the text is cut at 300 characters). */
describe('Orgo errors redact the key wholly', () => {
  const key = 'sk_live_0123456789abcdefghijklmnopqrstuvwxyzABCD';
  it('a key straddling the 300-character bound is not left in part', () => {
    const said = `${'x'.repeat(253)} bad key ${key} given`; // the key starts at 262: only its last characters fall past 300
    expect(redact(said, key)).not.toContain(key.slice(0, 20));
    const error = orgoHttpError(400, 'POST /computers', { error: said }, key);
    expect(error.message).not.toContain(key.slice(0, 20));
  });
});
