import { z } from 'zod';
import { asKnightId, knightDecider } from '../../domain/index.ts';
import { knightStream } from '../../domain/shared/streams.ts';
import { accepted, envelope, text } from '../context.ts';
import type { Accepted, Caller, CommandPorts } from '../context.ts';

export const terminateKnightInput = z.object({ reason: text(500).default('terminated by client') }).strict();

/** Allowed whatever the tenant's status: stopping a VM must never be refused. */
export const terminateKnight = async (
  ports: CommandPorts,
  caller: Caller,
  knightId: string,
  input: z.infer<typeof terminateKnightInput>,
): Promise<Accepted> =>
  accepted(
    await ports.shell.handle(
      knightDecider,
      envelope(caller, knightStream(caller.tenantId, asKnightId(knightId)), {
        type: 'RequestKnightTermination',
        reason: input.reason,
        at: ports.clock().toISOString(),
      }),
    ),
  );
