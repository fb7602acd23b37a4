import { z } from 'zod';
import { asKnightId, KNIGHT_CPUS, KNIGHT_RAM_GB, knightDecider } from '../../domain/index.ts';
import { knightStream } from '../../domain/shared/streams.ts';
import { accepted, envelope, reserveKnight, tenantFactsOf, text } from '../context.ts';
import type { Accepted, Caller, CommandPorts } from '../context.ts';

/** A literal set, so the OpenAPI document lists the values (a refine on an integer would document any integer). */
const oneOf = <const T extends readonly [number, ...number[]]>(values: T) => z.literal(values, `one of ${values.join(', ')}`);

export const deployKnightInput = z
  .object({
    task: text(2000).refine((s) => s.trim().length > 0, 'must not be blank'),
    cpu: oneOf(KNIGHT_CPUS).default(2),
    ramGb: oneOf(KNIGHT_RAM_GB).default(4),
  })
  .strict();

export const deployKnight = async (
  ports: CommandPorts,
  caller: Caller,
  input: z.infer<typeof deployKnightInput>,
  options: { knightId?: string } = {},
): Promise<Accepted & { knightId: string }> => {
  const knightId = asKnightId(options.knightId ?? ports.newId());
  const tenant = await tenantFactsOf(ports, caller.tenantId);
  // a slot, not a bare count: deploys sent together, through any API process, must not all pass the
  // knights-at-once limit (taken last: from here on it is always settled)
  const slot = await reserveKnight(ports.usage, caller.tenantId, knightId);
  let position: bigint | undefined;
  try {
    const result = await ports.shell.handle(
      knightDecider,
      envelope(caller, knightStream(caller.tenantId, knightId), {
        type: 'DeployKnight',
        knightId,
        tenantId: caller.tenantId,
        task: input.task,
        spec: { cpu: input.cpu, ramGb: input.ramGb },
        tenant,
        activeKnights: slot.count,
        at: ports.clock().toISOString(),
      }),
    );
    if (result.events.length > 0) position = result.position;
    return { ...accepted(result), knightId };
  } finally {
    await slot.settle(position);
  }
};
