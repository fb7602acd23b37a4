import { describe, expect, it } from 'vitest';
import { ENV_SCHEMA } from '../../runtime/config-schema.ts';
import { ConfigError, parseEnv } from '../../runtime/config.ts';

/** The variables that hold keys, secrets or URLs (which may carry a password), from the schema itself. */
const secretNames = Object.keys(ENV_SCHEMA.shape).filter((name) => /KEYS?$|SECRET|TOKEN|PASSWORD|_URL$/.test(name));
/** Free-form here (checked where they are used: a connection string, a key file's contents, a vendor's key). */
const FREE_FORM = ['EVENTSTORE_URL', 'JWT_PRIVATE_KEYS', 'ORGO_API_KEY'];

describe('a bad secret stops start-up without being echoed', () => {
  it('the schema has such variables (the list is not empty by accident)', () => {
    expect(secretNames).toEqual(expect.arrayContaining(['ENCRYPTION_KEY', 'OPERATOR_API_KEY', 'STRIPE_SECRET_KEY', 'DATABASE_URL', 'JWT_PRIVATE_KEYS']));
  });

  it.each(secretNames.filter((name) => !FREE_FORM.includes(name)))('%s: a refused value is named as "value not shown", never printed', (name) => {
    const value = 'hunter2 is:not valid%';
    let message = '';
    try {
      parseEnv(ENV_SCHEMA, { [name]: value });
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      message = (error as Error).message;
    }
    expect(message).toContain(`${name}:`);
    expect(message).toContain('(value not shown)');
    expect(message).not.toContain('hunter2');
  });
});
