import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { API_KEY_SCOPES, tenantDecider } from '../../domain/index.ts';
import { AppError } from '../../domain/shared/errors.ts';
import type { TenantId } from '../../domain/index.ts';
import { tenantStream } from '../../domain/shared/streams.ts';
import { accepted, envelope, text } from '../context.ts';
import type { Accepted, Caller, CommandPorts } from '../context.ts';

/**
 * API keys look like `ocs_<keyId>_<secret>`: a recognisable prefix (secret scanners can match it),
 * a short public id to look the key up by, and 32 random bytes. Only SHA-256 of the secret is kept:
 * the secret has full entropy, so a slow hash would add nothing.
 */
export const API_KEY_PREFIX = 'ocs';
const KEY_PATTERN = /^ocs_([a-z0-9]{12})_([A-Za-z0-9_-]{43})$/;

export const hashApiKeySecret = (secret: string): string => createHash('sha256').update(secret).digest('hex');

export const parseApiKey = (presented: string): { keyId: string; secret: string } | undefined => {
  const match = KEY_PATTERN.exec(presented);
  return match ? { keyId: match[1]!, secret: match[2]! } : undefined;
};

/** 12 characters of a-z0-9 (about 62 bits) from any seed: an id derived from an Idempotency-Key is the same on a replay. */
export const apiKeyIdFrom = (seed: string): string =>
  BigInt(`0x${createHash('sha256').update(seed).digest('hex').slice(0, 16)}`).toString(36).padStart(13, '0').slice(-12);

export const mintApiKey = (keyId = randomBytes(12).toString('base64url').toLowerCase().replace(/[^a-z0-9]/g, '').padEnd(12, '0').slice(0, 12)): { keyId: string; secret: string; key: string } => {
  const secret = randomBytes(32).toString('base64url');
  return { keyId, secret, key: `${API_KEY_PREFIX}_${keyId}_${secret}` };
};

export const issueApiKeyInput = z
  .object({
    label: text(100).refine((s) => s.trim().length > 0, 'must not be blank'),
    scope: z.enum(API_KEY_SCOPES).default('tenant'),
  })
  .strict();

/**
 * Returns the key once; afterwards only its hash exists anywhere. `options.keyId` (derived from an
 * Idempotency-Key) lets a repeat name the key it issued; without it a repeat answers `keyId: ""`.
 */
export const issueApiKey = async (
  ports: CommandPorts,
  caller: Caller,
  tenantId: TenantId,
  input: z.infer<typeof issueApiKeyInput>,
  options: { keyId?: string } = {},
): Promise<Accepted & { keyId: string; key: string | null }> => {
  // The domain sees one tenant, so it cannot tell an id is taken elsewhere: the read models can. A fresh
  // random id is drawn again; an id derived from an Idempotency-Key is that key's, so the request is refused.
  const takenElsewhere = async (keyId: string) => {
    const owner = await ports.apiKeyOwner?.(keyId);
    return owner !== undefined && owner !== tenantId;
  };
  let minted = mintApiKey(options.keyId);
  for (let draws = 1; await takenElsewhere(minted.keyId); draws++) {
    if (options.keyId !== undefined || draws >= 3)
      throw new AppError('conflict', 'api_key_id_taken', 'this API key id is taken; send the request again with another Idempotency-Key');
    minted = mintApiKey();
  }
  const result = await ports.shell.handle(
    tenantDecider,
    envelope({ ...caller, tenantId }, tenantStream(tenantId), {
      type: 'IssueApiKey',
      keyId: minted.keyId,
      scope: input.scope,
      label: input.label,
      hash: hashApiKeySecret(minted.secret),
      at: ports.clock().toISOString(),
    }),
  );
  // A repeated Idempotency-Key cannot show the secret again: it was never stored.
  return result.duplicate ? { ...accepted(result), keyId: options.keyId ?? '', key: null } : { ...accepted(result), keyId: minted.keyId, key: minted.key };
};

export const revokeApiKey = async (ports: CommandPorts, caller: Caller, tenantId: TenantId, keyId: string): Promise<Accepted> =>
  accepted(
    await ports.shell.handle(
      tenantDecider,
      envelope({ ...caller, tenantId }, tenantStream(tenantId), { type: 'RevokeApiKey', keyId, at: ports.clock().toISOString() }),
    ),
  );
