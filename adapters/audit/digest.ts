import { createHash } from 'node:crypto';
import { z } from 'zod';
import { AppError } from '../../domain/shared/errors.ts';
import { canonicalJson } from '../event-store/chain.ts';

/**
 * A tenant's digest: the head (revision and hash) of each of its streams at a log position, and a
 * root over them. Keep the root (64 hex characters) somewhere the platform cannot write, or the
 * whole document: a later verify against it detects deleted newest events (a stream shorter than
 * its recorded head) and rewritten histories (a recorded head whose hash changed). See docs/audit.md.
 */
export const DIGEST_FORMAT = 'openclaw-audit-digest/1';

const hex64 = z.string().regex(/^[0-9a-f]{64}$/, 'a sha256 in hex');

export const tenantDigestSchema = z.object({
  format: z.literal(DIGEST_FORMAT),
  tenantId: z.string().min(1),
  position: z.string().regex(/^-?\d+$/),
  events: z.number().int().nonnegative(),
  root: hex64,
  heads: z.array(z.object({ streamId: z.string().min(1), revision: z.number().int().nonnegative(), hash: hex64 })),
});
export type TenantDigest = z.infer<typeof tenantDigestSchema>;

type Head = TenantDigest['heads'][number];

const byStream = (a: Head, b: Head): number => (a.streamId < b.streamId ? -1 : a.streamId > b.streamId ? 1 : 0);

/** The root over a tenant's stream heads, whatever order they come in. */
const digestRoot = (heads: readonly Head[]): string =>
  createHash('sha256')
    .update(canonicalJson([...heads].sort(byStream).map((h) => [h.streamId, h.revision, h.hash])))
    .digest('hex');

export const makeDigest = (tenantId: string, position: bigint | undefined, events: number, heads: readonly Head[]): TenantDigest => ({
  format: DIGEST_FORMAT,
  tenantId,
  position: String(position ?? -1n),
  events,
  root: digestRoot(heads),
  heads: [...heads].sort(byStream),
});

/** Parses a digest document; one whose root does not match its heads was edited and is refused. */
export const parseDigest = (text: string): TenantDigest => {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new AppError('validation', 'malformed_digest', `the digest is not JSON: ${(error as Error).message}`);
  }
  const parsed = tenantDigestSchema.safeParse(json);
  if (!parsed.success) throw new AppError('validation', 'malformed_digest', `the digest is malformed: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  if (digestRoot(parsed.data.heads) !== parsed.data.root)
    throw new AppError('validation', 'digest_inconsistent', 'the digest root does not match its heads: the digest itself was edited');
  return parsed.data;
};
