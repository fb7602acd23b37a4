import { z } from 'zod';
import { KNIGHT_CPUS, KNIGHT_FAILURE_STAGES, KNIGHT_RAM_GB } from '../../../domain/knight/events.ts';
import type { KnightEvent } from '../../../domain/knight/events.ts';
import { defineCatalog, instant, olderVersion } from '../catalog.ts';
import { knightId, sealed, tenantId, token } from './common.ts';

const at = instant;
const spec = z.strictObject({ cpu: z.literal(KNIGHT_CPUS), ramGb: z.literal(KNIGHT_RAM_GB) });
const httpUrl = z.string().regex(/^https?:\/\/[\x21-\x7e]{1,2040}$/, 'an http(s) URL');

export const knightCatalog = defineCatalog<KnightEvent>('knight', {
  KnightRequested: { schema: z.strictObject({ knightId, tenantId, task: sealed, spec, at }), personal: ['task'] },
  KnightProvisioningStarted: { schema: z.strictObject({ vmName: token, at }) },
  KnightProvisioned: { schema: z.strictObject({ vmId: token, url: z.string().max(2048).nullable(), at }) },
  KnightTaskStarted: { schema: z.strictObject({ taskId: token, description: sealed, at }), personal: ['description'] },
  KnightTaskProgressed: {
    schema: z.strictObject({ taskId: token, percent: z.number().int().min(0).max(100), note: sealed, at }),
    personal: ['note'],
  },
  KnightTaskCompleted: {
    schema: z.strictObject({ taskId: token, result: sealed, screenshotUrl: httpUrl.nullable(), at }),
    personal: ['result'],
    // v1 had no screenshot link
    older: [olderVersion(z.strictObject({ taskId: token, result: sealed, at }), (v1) => ({ ...v1, screenshotUrl: null }))],
  },
  KnightFailed: {
    // the reason may quote a task's output, which is the tenant's own data
    schema: z.strictObject({ stage: z.enum(KNIGHT_FAILURE_STAGES), reason: sealed, at }),
    personal: ['reason'],
    // v1 had no stage
    older: [olderVersion(z.strictObject({ reason: z.string().max(2000), at }), (v1) => ({ ...v1, stage: 'unknown' }))],
  },
  KnightTerminationRequested: { schema: z.strictObject({ reason: z.string().max(2000), at }) },
  KnightTerminated: { schema: z.strictObject({ at }) },
});
