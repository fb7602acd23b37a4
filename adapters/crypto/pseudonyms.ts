import type { KeyService, Pseudonymize } from '../../domain/ports/keys.ts';
import { tenantErased } from '../../domain/tenant/facts.ts';

/** The command ports' `pseudonyms` over a key service: a tenant without a key gets one, an erased tenant none. */
export const pseudonymsOf =
  (keys: KeyService) =>
  async (tenantId: string): Promise<Pseudonymize> => {
    const cipher = await keys.cipherFor(tenantId, { create: true });
    if (!cipher) throw tenantErased();
    return (kind, value) => cipher.pseudonym(kind, value);
  };
