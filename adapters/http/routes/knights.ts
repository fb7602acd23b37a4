import { z } from 'zod';
import { deployKnight, deployKnightInput } from '../../../commands/knights/deploy-knight.ts';
import { terminateKnight, terminateKnightInput } from '../../../commands/knights/terminate-knight.ts';
import { AppError } from '../../../domain/shared/errors.ts';
import { notFound } from '../http-error.ts';
import { defineRoute, entityIdParam, freshnessQuery, pagedQuery, positioned } from './route.ts';

const knightPath = z.object({ knightId: entityIdParam });
const tag = 'knights';
const readers = ['tenant', 'auditor'] as const;

export const knightRoutes = [
  defineRoute({
    method: 'post', path: '/knights', tag, summary: 'Deploy a knight (a worker VM) for a task; provisioning continues after 202',
    scopes: ['tenant'], tenant: 'credential', body: deployKnightInput, status: 202,
    handle: async ({ deps, caller, body, newId }) => {
      // a derived id makes an Idempotency-Key replay hit the same stream
      const result = await deployKnight(deps.ports, caller(), body, { knightId: newId('knight') });
      return { body: { knightId: result.knightId, ...positioned(result) }, duplicate: result.duplicate };
    },
  }),
  defineRoute({
    method: 'get', path: '/knights', tag, summary: 'Knights, newest first',
    scopes: readers, tenant: 'credential', query: pagedQuery, status: 200,
    handle: async ({ deps, tenantId, query }) => ({
      body: await deps.reads.forTenant(tenantId, (r) => r.knights({ limit: query.limit, cursor: query.cursor })),
    }),
  }),
  defineRoute({
    method: 'get', path: '/knights/:knightId', tag, summary: 'One knight',
    scopes: readers, tenant: 'credential', params: knightPath, query: freshnessQuery, status: 200,
    handle: async ({ deps, tenantId, params }) => {
      const knight = await deps.reads.forTenant(tenantId, (r) => r.knight(params.knightId));
      if (!knight) throw notFound('knight_not_found', 'knight not found');
      return { body: knight };
    },
  }),
  defineRoute({
    method: 'get', path: '/knights/:knightId/screenshot', tag, summary: "The knight's screen now, while its computer runs: `{image}` (a data URL or an https link)",
    scopes: readers, tenant: 'credential', params: knightPath, status: 200,
    handle: async ({ deps, tenantId, params }) => {
      const knight = await deps.reads.forTenant(tenantId, (r) => r.knight(params.knightId));
      if (!knight) throw notFound('knight_not_found', 'knight not found');
      if (!knight.vmId || (knight.status !== 'provisioned' && knight.status !== 'working'))
        throw new AppError('conflict', 'knight_computer_not_running', `the knight's computer is not running (the knight is ${knight.status})`);
      if (!deps.vms) throw new AppError('unavailable', 'screenshots_unavailable', 'this process has no connection to the computers; try again later');
      const shot = await deps.vms.screenshot(knight.vmId).catch((error: unknown) => {
        // whatever Orgo answered (its status, request id, hints about our keys) is for the operator's log, not the tenant
        throw new AppError('unavailable', 'screenshot_unavailable', "the knight's screen could not be taken; try again later", undefined, { cause: error });
      });
      return { body: { knightId: knight.knightId, image: shot.kind === 'data' ? shot.dataUrl : shot.url } };
    },
  }),
  defineRoute({
    method: 'delete', path: '/knights/:knightId', tag, summary: 'Terminate a knight; its VM is stopped after 202',
    scopes: ['tenant'], tenant: 'credential', params: knightPath, status: 202,
    handle: async ({ deps, caller, params }) => {
      const result = await terminateKnight(deps.ports, caller(), params.knightId, terminateKnightInput.parse({}));
      return { body: { knightId: params.knightId, ...positioned(result) }, duplicate: result.duplicate };
    },
  }),
];
