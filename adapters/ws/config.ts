import { z } from 'zod';
import { decimalInt } from '../config/decimal.ts';

export interface PusherSettings {
  /** A ping every this often; a peer that has not answered the previous one is dropped. */
  readonly heartbeatMs: number;
  /** Unsent bytes of one socket past which it is cut off (4408). */
  readonly maxBufferedBytes: number;
  /** Largest frame a client may send (1009 past it). */
  readonly maxFrameBytes: number;
  /** Events per store read. */
  readonly pageSize: number;
  /** How long a cut-off or closed socket gets to finish the close handshake before it is destroyed. */
  readonly closeGraceMs: number;
  /** How long a catch-up waits for a client to read its backlog before cutting it off. */
  readonly drainTimeoutMs: number;
  /** Open sockets of one tenant on one pusher instance; one more is refused (4429): each catches up on the log. */
  readonly maxSocketsPerTenant: number;
}

export const DEFAULT_PUSHER_SETTINGS: PusherSettings = {
  heartbeatMs: 30_000,
  maxBufferedBytes: 1 << 20,
  maxFrameBytes: 4_096,
  pageSize: 500,
  closeGraceMs: 5_000,
  drainTimeoutMs: 15_000,
  maxSocketsPerTenant: 100,
};

/** The pushers' own variables (README, docs/live.md). */
export const wsConfigSchema = z.object({
  WS_HEARTBEAT_MS: decimalInt(1_000, 300_000).default(DEFAULT_PUSHER_SETTINGS.heartbeatMs),
  WS_MAX_BUFFERED_BYTES: decimalInt(16_384, 64 << 20).default(DEFAULT_PUSHER_SETTINGS.maxBufferedBytes),
  WS_MAX_FRAME_BYTES: decimalInt(128, 1 << 20).default(DEFAULT_PUSHER_SETTINGS.maxFrameBytes),
  WS_MAX_SOCKETS_PER_TENANT: decimalInt(1, 100_000).default(DEFAULT_PUSHER_SETTINGS.maxSocketsPerTenant),
  /** With BUS=kafka: the topic of live frames (agents' partial replies), shared by publishers and pushers. */
  KAFKA_LIVE_TOPIC: z.string().regex(/^[A-Za-z0-9._-]{1,200}$/).default('openclaw.live'),
});
