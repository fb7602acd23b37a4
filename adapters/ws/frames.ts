import { z } from 'zod';
import type { Decoded } from '../../domain/events.ts';
import type { LiveFrame } from '../../domain/ports/live.ts';

/** The subprotocol a client offers; the server answers with it (never with the credential). */
export const SUBPROTOCOL = 'openclaw.v1';
/** A second offered subprotocol `bearer.<token or API key>` carries the credential (browsers cannot set headers). */
export const BEARER_PREFIX = 'bearer.';

/** One event as a dashboard sees it: personal fields decrypted, secrets masked (decode mode `view`). */
export const eventFrame = (event: Decoded): string =>
  JSON.stringify({
    kind: 'event',
    position: event.position.toString(),
    id: event.id,
    streamId: event.streamId,
    revision: event.revision,
    type: event.type,
    data: event.data,
    actor: event.metadata.actor,
    correlationId: event.metadata.correlationId,
    recordedAt: event.recordedAt.toISOString(),
  });

export const helloFrame = (tenantId: string, after: bigint | undefined): string =>
  JSON.stringify({ kind: 'hello', tenantId, after: after === undefined ? null : after.toString() });

/** Sent once catch-up is over: from here on events arrive as they are appended. */
export const liveFrame = (position: bigint): string => JSON.stringify({ kind: 'live', position: position < 0n ? null : position.toString() });

export const liveFeedFrame = (frame: LiveFrame): string => JSON.stringify(frame);

/** What a client may send: `{"type":"ping"}` (answered `{"kind":"pong"}`). Anything else closes with 1007. */
export const clientMessage = z.discriminatedUnion('type', [z.object({ type: z.literal('ping') }).strict()]);

export const parseClientMessage = (raw: string): z.infer<typeof clientMessage> | undefined => {
  try {
    const parsed = clientMessage.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
};
