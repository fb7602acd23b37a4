import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocketServer } from 'ws';
import type { RawData, WebSocket } from 'ws';
import type { Bus, BusSubscription } from '../../domain/ports/bus.ts';
import type { EventCodec } from '../../domain/ports/codec.ts';
import type { EventStore } from '../../domain/ports/event-store.ts';
import type { LiveSource } from '../../domain/ports/live.ts';
import { TENANT_ID_PATTERN } from '../../domain/shared/ids.ts';
import type { Authenticator } from '../auth/authenticate.ts';
import type { Principal } from '../auth/principal.ts';
import { isHttpError } from '../http/http-error.ts';
import { CLOSE, closeCodeOfStatus, closeReason } from './close-codes.ts';
import type { CloseCode } from './close-codes.ts';
import { helloFrame, liveFeedFrame, liveFrame, parseClientMessage, SUBPROTOCOL } from './frames.ts';
import { catchUp, createTenantFeed, FLOOR } from './tenant-feed.ts';
import { websocketConnections } from '../telemetry/metrics.ts';
import type { FeedMember, TenantFeed } from './tenant-feed.ts';
import { credentialSourceOf } from './upgrade.ts';
import { DEFAULT_PUSHER_SETTINGS } from './config.ts';
import type { PusherSettings } from './config.ts';


export interface PusherDeps {
  readonly bus: Bus;
  readonly store: EventStore;
  readonly codec: EventCodec;
  readonly authenticator: Authenticator;
  readonly live?: LiveSource | undefined;
  readonly log: Logger;
  readonly settings?: Partial<PusherSettings>;
  /** The client of an upgrade (TRUST_PROXY: HttpServer.clientAddressOf); default the socket's address. */
  readonly clientAddressOf?: ((req: IncomingMessage) => string | undefined) | undefined;
}

const PATH = /^\/ws\/tenant\/([^/?#]*)$/;

interface Connection extends FeedMember {
  readonly ws: WebSocket;
  readonly tenantId: string;
  /** Who connected: asked again at every heartbeat, so a revoked key's sockets close (4401). */
  readonly principal: Principal;
  alive: boolean;
  closed: boolean;
}

/**
 * WebSocket pushers: `/ws/tenant/{id}` streams a tenant's events (decoded `view`, as the read API
 * shows them) and its live frames. A broadcast consumer of the bus wakes the tenant feeds, so
 * every pusher instance sees every event. See docs/live.md.
 */
export const createPusher = async (deps: PusherDeps) => {
  const settings = { ...DEFAULT_PUSHER_SETTINGS, ...deps.settings };
  const { log } = deps;
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: settings.maxFrameBytes,
    perMessageDeflate: false,
    handleProtocols: (offered) => (offered.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
  });
  const feeds = new Map<string, Promise<TenantFeed>>();
  const connections = new Set<Connection>();
  let cutOff = 0;
  let closing = false;

  const feedOf = (tenantId: string): Promise<TenantFeed> => {
    let feed = feeds.get(tenantId);
    if (!feed) {
      feed = deps.store.headPosition().then((head) => {
        const created = createTenantFeed({ tenantId, store: deps.store, codec: deps.codec, log, pageSize: settings.pageSize, start: head ?? FLOOR });
        created.wake(); // events the bus delivered while the head was read
        return created;
      });
      feeds.set(tenantId, feed);
      feed.catch(() => feeds.delete(tenantId));
    }
    return feed;
  };

  /** Takes the socket out of its tenant's feed (and drops the feed with its last socket). */
  /** Open sockets by tenant (the bound of `maxSocketsPerTenant`). */
  const socketsOf = new Map<string, number>();
  const forget = (conn: Connection): boolean => {
    if (conn.closed) return false;
    conn.closed = true;
    connections.delete(conn);
    const left = (socketsOf.get(conn.tenantId) ?? 1) - 1;
    if (left > 0) socketsOf.set(conn.tenantId, left);
    else socketsOf.delete(conn.tenantId);
    websocketConnections.dec();
    const pending = feeds.get(conn.tenantId);
    void pending?.then((feed) => {
      feed.leave(conn);
      if (feed.size === 0 && feeds.get(conn.tenantId) === pending && ![...connections].some((c) => c.tenantId === conn.tenantId)) {
        feed.stop();
        feeds.delete(conn.tenantId);
      }
    }, () => undefined);
    return true;
  };

  const close = (conn: Connection, code: CloseCode, reason: string) => {
    if (!forget(conn)) return;
    conn.ws.close(code, reason);
    setTimeout(() => conn.ws.terminate(), settings.closeGraceMs).unref();
  };

  const sendTo = (conn: Connection, frame: string | Buffer): boolean => {
    if (conn.closed) return false;
    if (conn.ws.bufferedAmount > settings.maxBufferedBytes) {
      cutOff++;
      log.warn({ tenantId: conn.tenantId, buffered: conn.ws.bufferedAmount }, 'ws client too slow: cut off');
      close(conn, CLOSE.slowConsumer, closeReason('slow_consumer', `more than ${settings.maxBufferedBytes} bytes unsent; reconnect with your last position`));
      return false;
    }
    conn.ws.send(frame, { binary: false });
    return true;
  };

  const drained = async (conn: Connection): Promise<boolean> => {
    const until = Date.now() + settings.drainTimeoutMs;
    while (!conn.closed && conn.ws.bufferedAmount > settings.maxBufferedBytes / 2) {
      if (Date.now() > until) {
        cutOff++;
        close(conn, CLOSE.slowConsumer, closeReason('slow_consumer', `did not read its backlog within ${settings.drainTimeoutMs} ms`));
        return false;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return !conn.closed;
  };

  const refuse = (ws: WebSocket, code: CloseCode, reason: string) => {
    ws.close(code, reason);
    setTimeout(() => ws.terminate(), settings.closeGraceMs).unref();
  };

  const onMessage = (ws: WebSocket, data: RawData, isBinary: boolean, conn: () => Connection | undefined) => {
    const target = conn();
    const shut = (code: CloseCode, reason: string) => (target ? close(target, code, reason) : refuse(ws, code, reason));
    if (isBinary) return shut(CLOSE.unsupported, closeReason('binary_frame', 'this endpoint takes JSON text frames only'));
    const message = parseClientMessage(data.toString());
    if (!message) return shut(CLOSE.malformed, closeReason('malformed_frame', 'expected {"type":"ping"}'));
    if (target) sendTo(target, '{"kind":"pong"}');
    else ws.send('{"kind":"pong"}');
  };

  const onConnection = async (ws: WebSocket, req: IncomingMessage) => {
    const slot: { conn?: Connection } = {}; // set once authenticated: frames before that still get checked
    ws.on('message', (data, isBinary) => onMessage(ws, data, isBinary, () => slot.conn));
    ws.on('error', (error) => log.debug({ err: error }, 'ws socket error'));
    const url = new URL(req.url ?? '/', 'http://pusher');
    let tenantId = '';
    try {
      tenantId = decodeURIComponent(PATH.exec(url.pathname)?.[1] ?? '');
    } catch {
      // a broken percent-encoding: refused below like any other malformed id
    }
    if (!TENANT_ID_PATTERN.test(tenantId)) return refuse(ws, CLOSE.badRequest, closeReason('invalid_tenant_id', 'the path must be /ws/tenant/{tenantId}'));
    const afterParam = url.searchParams.get('after');
    if (afterParam !== null && !/^\d{1,30}$/.test(afterParam))
      return refuse(ws, CLOSE.badRequest, closeReason('invalid_after', 'after must be a decimal position'));
    let principal;
    try {
      principal = await deps.authenticator.authenticate(credentialSourceOf(req, deps.clientAddressOf));
    } catch (error) {
      if (isHttpError(error)) return refuse(ws, closeCodeOfStatus(error.status), closeReason(error.code, error.message));
      log.error({ err: error }, 'ws authentication failed unexpectedly');
      return refuse(ws, CLOSE.internal, closeReason('internal_error', 'try again later'));
    }
    if (principal.scope === 'operator')
      return refuse(ws, CLOSE.forbidden, closeReason('tenant_credential_required', "the operator does not read tenants' events; use a tenant or auditor key"));
    // the same words as the HTTP API's `?tenantId=` of another tenant: one that exists and one that does not look alike
    if (principal.tenantId !== tenantId) return refuse(ws, CLOSE.notFound, closeReason('tenant_not_found', 'tenant not found'));
    if (closing || ws.readyState !== ws.OPEN) return refuse(ws, CLOSE.restart, closeReason('restarting', 'reconnect'));
    if ((socketsOf.get(tenantId) ?? 0) >= settings.maxSocketsPerTenant)
      return refuse(ws, CLOSE.tooManyFailures, closeReason('too_many_sockets', `this tenant has ${settings.maxSocketsPerTenant} sockets open here; close one first`));
    const joined: Connection = { ws, tenantId, principal, cursor: FLOOR, alive: true, closed: false, send: (frame) => sendTo(joined, frame) };
    slot.conn = joined;
    connections.add(joined);
    socketsOf.set(tenantId, (socketsOf.get(tenantId) ?? 0) + 1);
    websocketConnections.inc();
    ws.on('pong', () => (joined.alive = true));
    ws.on('close', () => close(joined, CLOSE.restart, ''));
    try {
      // a position past the log's end (saved before a restore, or made up) would show nothing until the log
      // got there, which may be never: refused, so the client starts over instead of waiting in silence
      if (afterParam !== null && BigInt(afterParam) > ((await deps.store.headPosition()) ?? 0n))
        return close(joined, CLOSE.badRequest, closeReason('after_beyond_log', 'after is past the end of the log; reconnect without it (or with a position you received)'));
      const feed = await feedOf(tenantId);
      joined.cursor = afterParam === null ? feed.watermark : BigInt(afterParam);
      if (!sendTo(joined, helloFrame(tenantId, afterParam === null ? undefined : joined.cursor))) return;
      const ok = await catchUp(feed, joined, { store: deps.store, codec: deps.codec, log, tenantId, pageSize: settings.pageSize, drained: () => drained(joined) });
      if (ok) sendTo(joined, liveFrame(joined.cursor));
    } catch (error) {
      log.error({ err: error, tenantId }, 'ws catch-up failed');
      close(joined, CLOSE.internal, closeReason('catch_up_failed', 'could not read the log; reconnect with your last position'));
    }
  };

  const handleUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): boolean => {
    if (!PATH.test((req.url ?? '').split('?')[0]!)) return false;
    if (closing) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\r\n');
      return true;
    }
    wss.handleUpgrade(req, socket, head, (ws) => void onConnection(ws, req));
    return true;
  };

  /**
   * The credentials of the open sockets, once per key: a key revoked (or its tenant erased) since a
   * socket connected closes that socket with 4401, as a new connection with it would be refused. A
   * check that cannot be made now (the read models away) leaves the sockets open until the next beat.
   */
  let rechecking = false;
  const recheckCredentials = async () => {
    if (rechecking) return;
    rechecking = true;
    try {
      const byKey = new Map<string, Connection[]>();
      for (const conn of connections) {
        const same = byKey.get(conn.principal.keyId);
        if (same) same.push(conn);
        else byKey.set(conn.principal.keyId, [conn]);
      }
      await Promise.all(
        [...byKey.values()].map(async (conns) => {
          try {
            await deps.authenticator.stillValid(conns[0]!.principal);
          } catch (error) {
            if (!isHttpError(error) || error.status !== 401) return log.debug({ err: error }, 'ws credential not rechecked now');
            for (const conn of conns) close(conn, closeCodeOfStatus(401), closeReason(error.code, 'the credential was revoked; connect with a valid one'));
          }
        }),
      );
    } finally {
      rechecking = false;
    }
  };

  const heartbeat = setInterval(() => {
    for (const conn of connections) {
      if (!conn.alive) {
        log.debug({ tenantId: conn.tenantId }, 'ws peer did not answer the ping: dropped');
        forget(conn);
        conn.ws.terminate(); // no close frame: nobody is there to read it
        continue;
      }
      conn.alive = false;
      conn.ws.ping();
    }
    void recheckCredentials();
  }, settings.heartbeatMs);
  heartbeat.unref();

  const subscription: BusSubscription = await deps.bus.consume('ws-pusher', { mode: 'broadcast' }, (events) => {
    const tenants = new Set(events.map((event) => event.metadata.tenantId));
    for (const tenantId of tenants) void feeds.get(tenantId)?.then((feed) => feed.wake(), () => undefined);
  });
  const liveSubscription = await deps.live?.listen((tenantId, frame) => {
    let text: string | undefined;
    for (const conn of connections) if (conn.tenantId === tenantId) conn.send((text ??= liveFeedFrame(frame)));
  });

  const attached = new Map<Server, (req: IncomingMessage, socket: Duplex, head: Buffer) => void>();
  return {
    /** Takes the upgrades of `/ws/tenant/…` on `server`; other upgrade paths get 404. */
    attach(server: Server) {
      const listener = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
        if (!handleUpgrade(req, socket, head) && server.listenerCount('upgrade') === 1) socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
      };
      server.on('upgrade', listener);
      attached.set(server, listener);
    },
    handleUpgrade,
    stats: () => ({ connections: connections.size, tenants: feeds.size, cutOff }),
    /** Closes every socket with 1012 (clients reconnect with their last position), then the subscriptions. */
    async close() {
      closing = true;
      clearInterval(heartbeat);
      for (const [server, listener] of attached) server.off('upgrade', listener);
      for (const conn of [...connections]) close(conn, CLOSE.restart, closeReason('restarting', 'the pusher stops; reconnect with your last position'));
      await subscription.close();
      await liveSubscription?.close();
      for (const feed of feeds.values()) void feed.then((f) => f.stop(), () => undefined);
      feeds.clear();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
};

export type Pusher = Awaited<ReturnType<typeof createPusher>>;
