import { describe, expect, it } from 'vitest';
import { createEventCodec } from '../../adapters/codec/index.ts';
import { createProjector } from '../../adapters/projections/projector.ts';
import { PROJECTIONS } from '../../projections/index.ts';
import { useProjectorSchemas } from '../support/projector-fixture.ts';

describe('projector lifecycle', () => {
  const fixture = useProjectorSchemas('stop');
  const { db, readModels } = fixture;

  it('stops promptly even when stopped right after starting (it once left a subscription running and hung)', async () => {
    for (let i = 0; i < 5; i++) {
      const projector = createProjector({ db, store: fixture.store, codec: createEventCodec({ keys: null }), schema: readModels, projections: PROJECTIONS });
      projector.start();
      const stopped = await Promise.race([projector.stop().then(() => true), new Promise((r) => setTimeout(() => r(false), 3_000))]);
      expect(stopped).toBe(true);
    }
  });
});
