import type { Server } from 'node:http';
import WebSocket from 'ws';
import { createInProcessLiveFeed } from '../../adapters/live/in-process.ts';
import { createPusher } from '../../adapters/ws/pusher.ts';
import type { PusherSettings } from '../../adapters/ws/config.ts';
import type { Pusher } from '../../adapters/ws/pusher.ts';
import type { EventStore } from '../../domain/ports/event-store.ts';
import { createLogger } from '../../runtime/logger.ts';
import type { ApiHarness } from '../support/api-harness.ts';

export type Frame = { kind: string; position?: string | null; type?: string; streamId?: string; data?: Record<string, unknown>; [k: string]: unknown };

/** A pusher on the harness's HTTP server, as the api role + ws role run in one process. */
export const pusherOn = async (
  h: ApiHarness,
  settings: Partial<PusherSettings> = {},
  live = createInProcessLiveFeed(),
  server: Server = h.http.server,
  store: EventStore = h.storage.store,
): Promise<Pusher> => {
  const pusher = await createPusher({
    bus: h.storage.bus,
    store,
    codec: h.storage.codec,
    authenticator: h.platform.api.auth.authenticator,
    live,
    log: createLogger(process.env.TEST_LOG_LEVEL ?? 'silent'),
    settings,
  });
  pusher.attach(server);
  return pusher;
};

export interface Socket {
  readonly ws: WebSocket;
  readonly frames: Frame[];
  readonly closed: Promise<{ code: number; reason: string }>;
  /** Resolves with the frames once one matches. */
  until(match: (frame: Frame) => boolean, timeoutMs?: number): Promise<Frame[]>;
  events(): Frame[];
}

/** A client the way the dashboard connects: subprotocols `openclaw.v1` and `bearer.<credential>`. */
export const connect = (baseUrl: string, tenantId: string, credential: string | undefined, query = '', options: WebSocket.ClientOptions = {}): Socket => {
  const url = `${baseUrl.replace(/^http/, 'ws')}/ws/tenant/${tenantId}${query}`;
  const ws = new WebSocket(url, credential === undefined ? ['openclaw.v1'] : ['openclaw.v1', `bearer.${credential}`], options);
  const frames: Frame[] = [];
  const waiters = new Set<() => void>();
  ws.on('message', (data) => {
    frames.push(JSON.parse(data.toString()) as Frame);
    for (const w of waiters) w();
  });
  ws.on('error', () => undefined);
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  return {
    ws,
    frames,
    closed,
    events: () => frames.filter((f) => f.kind === 'event'),
    until(match, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (frames.some(match)) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(frames);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no matching frame within ${timeoutMs} ms; got ${JSON.stringify(frames.slice(-5))}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
  };
};
