import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import type { AgentReplyOptions, AgentRequest, AgentRuntime } from '../../domain/ports/agent-runtime.ts';
import { sessionKeyOf } from '../openclaw/gateway-runtime.ts';
import { BRIDGE_CLOSE, BRIDGE_PATH, bridgeFrameSchema, parseFrame } from './bridge-protocol.ts';
import type { BridgeFrame, PlatformFrame } from './bridge-protocol.ts';

export type BridgeVerdict = { readonly ok: true; readonly tokenHash: string } | { readonly ok: false; readonly close: number; readonly reason: string };

export interface BridgeHubOptions {
  /** Checks a hello's tenant and token against the tenant's current bridge token hash. */
  verify(tenantId: string, token: string): Promise<BridgeVerdict>;
  readonly log: Logger;
  /** How long a request waits for its tenant's bridge before it fails. */
  readonly waitMs: number;
  /** Requests one tenant may have waiting; more fail at once. */
  readonly maxWaiting: number;
  readonly helloTimeoutMs?: number;
}

interface Pending {
  readonly request: AgentRequest;
  readonly options: AgentReplyOptions;
  resolve(text: string): void;
  reject(error: Error): void;
  /** The connection it was sent on; undefined while it waits for one. */
  sentOn: WebSocket | undefined;
  waitTimer: NodeJS.Timeout | undefined;
}

interface TenantLine {
  socket: WebSocket | undefined;
  tokenHash: string | undefined;
  readonly pending: Map<string, Pending>;
}

/**
 * The platform's end of the agent bridges: a WebSocket endpoint (`/bridge`) the bridges on the
 * tenants' VMs dial into, and an AgentRuntime per tenant that sends requests over its bridge.
 * The platform never dials a VM. While a tenant has no bridge, its requests wait (at most
 * `maxWaiting`, each at most `waitMs`) and say so once (`onDelayed`); a bridge that drops takes
 * its unanswered requests back to waiting, and they are sent again when it reconnects. Only the
 * dispatcher posts replies, once per user message, so a resend never answers twice.
 */
export const createBridgeHub = (options: BridgeHubOptions) => {
  const { log } = options;
  const lines = new Map<string, TenantLine>();
  const wss = new WebSocketServer({ noServer: true, maxPayload: 2 * 1024 * 1024 });
  const lineOf = (tenantId: string): TenantLine => {
    let line = lines.get(tenantId);
    if (!line) lines.set(tenantId, (line = { socket: undefined, tokenHash: undefined, pending: new Map() }));
    return line;
  };

  const send = (socket: WebSocket, frame: PlatformFrame) => socket.send(JSON.stringify(frame));

  const dispatch = (line: TenantLine, id: string, pending: Pending) => {
    if (line.socket) {
      clearTimeout(pending.waitTimer);
      pending.waitTimer = undefined;
      pending.sentOn = line.socket;
      send(line.socket, { type: 'request', id, sessionKey: sessionKeyOf(pending.request), text: pending.request.text });
      return;
    }
    pending.sentOn = undefined;
    pending.options.onDelayed('the agent bridge on the tenant VM is not connected');
    pending.waitTimer ??= setTimeout(() => {
      if (line.pending.get(id) === pending) line.pending.delete(id);
      pending.reject(new Error(`no agent bridge connected within ${options.waitMs} ms`));
    }, options.waitMs);
  };

  const onFrame = (line: TenantLine, socket: WebSocket, frame: BridgeFrame) => {
    if (frame.type === 'hello') return;
    const pending = line.pending.get(frame.id);
    if (!pending || pending.sentOn !== socket) return; // a late frame of a request taken back or finished
    if (frame.type === 'partial') pending.options.onPartial(frame.text);
    else {
      line.pending.delete(frame.id);
      if (frame.type === 'done') pending.resolve(frame.text);
      else pending.reject(new Error(`agent on the VM failed: ${frame.message}`));
    }
  };

  const attachSocket = (tenantId: string, tokenHash: string, socket: WebSocket) => {
    const line = lineOf(tenantId);
    const previous = line.socket;
    line.socket = socket;
    line.tokenHash = tokenHash;
    previous?.close(BRIDGE_CLOSE.replaced, 'a newer bridge connected');
    send(socket, { type: 'welcome', tenantId });
    log.info({ tenantId, waiting: line.pending.size }, 'agent bridge connected');
    for (const [id, pending] of line.pending) dispatch(line, id, pending);
    socket.on('message', (raw) => {
      const frame = parseFrame(bridgeFrameSchema, raw);
      if (!frame) return socket.close(BRIDGE_CLOSE.badHello, 'malformed frame');
      onFrame(line, socket, frame);
    });
    socket.on('close', () => {
      if (line.socket !== socket) return;
      line.socket = undefined;
      line.tokenHash = undefined;
      log.warn({ tenantId, inFlight: line.pending.size }, 'agent bridge disconnected; its requests wait for it');
      for (const [id, pending] of line.pending) if (pending.sentOn === socket) dispatch(line, id, pending);
    });
  };

  /** How many rechecks each tenant's bridge has had: a hello checked across one is checked again. */
  const rechecks = new Map<string, number>();
  const CANNOT_CHECK: BridgeVerdict = { ok: false, close: 1011, reason: 'cannot check the token now' };
  const checkOnce = (tenantId: string, token: string): Promise<BridgeVerdict> =>
    options.verify(tenantId, token).catch((error: unknown) => {
      log.error({ err: error }, 'bridge token check failed');
      return CANNOT_CHECK;
    });
  /**
   * A hello's check, as of no recheck in between: a token revoked (or rotated) while its hello was
   * being checked found no socket to close, and would otherwise be attached after its revocation.
   */
  const verifyHello = async (tenantId: string, token: string): Promise<BridgeVerdict> => {
    for (let attempt = 0; attempt < 5; attempt++) {
      const seen = rechecks.get(tenantId) ?? 0;
      const verdict = await checkOnce(tenantId, token);
      if (!verdict.ok || (rechecks.get(tenantId) ?? 0) === seen) return verdict;
    }
    return CANNOT_CHECK;
  };

  const greet = (socket: WebSocket) => {
    // a protocol error (frame over maxPayload, invalid UTF-8, bad opcode) is emitted as 'error' before ws closes the socket;
    // without a listener it is an uncaught exception that ends the process
    socket.on('error', (error) => log.debug({ err: error.message }, 'agent bridge connection error'));
    const timer = setTimeout(() => socket.close(BRIDGE_CLOSE.helloTimeout, 'no hello in time'), options.helloTimeoutMs ?? 10_000);
    socket.once('message', async (raw) => {
      clearTimeout(timer);
      const hello = parseFrame(bridgeFrameSchema, raw);
      if (!hello || hello.type !== 'hello') return socket.close(BRIDGE_CLOSE.badHello, 'the first frame must be a hello');
      const verdict = await verifyHello(hello.tenantId, hello.token);
      if (!verdict.ok) {
        log.warn({ tenantId: hello.tenantId.slice(0, 64), close: verdict.close }, 'agent bridge refused');
        return socket.close(verdict.close, verdict.reason);
      }
      if (socket.readyState !== socket.OPEN) return;
      attachSocket(hello.tenantId, verdict.tokenHash, socket);
    });
  };

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (new URL(req.url ?? '/', 'http://x').pathname !== BRIDGE_PATH) return false;
    wss.handleUpgrade(req, socket, head, greet);
    return true;
  };

  return {
    /** Serves `/bridge` on an HTTP server (upgrades to other paths are left alone). */
    attach(server: Server) {
      server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
        if (!onUpgrade(req, socket, head) && server.listenerCount('upgrade') === 1) socket.destroy();
      });
    },
    connected: (tenantId: string) => lines.get(tenantId)?.socket !== undefined,
    /** Closes a tenant's bridge whose token is no longer current (revoked, or rotated by a new agent VM). */
    async recheck(tenantId: string, isCurrent: (tokenHash: string) => Promise<boolean>) {
      rechecks.set(tenantId, (rechecks.get(tenantId) ?? 0) + 1);
      const line = lines.get(tenantId);
      if (!line?.socket || !line.tokenHash) return;
      if (!(await isCurrent(line.tokenHash))) line.socket.close(BRIDGE_CLOSE.revoked, 'bridge token revoked');
    },
    runtimeFor(tenantId: string): AgentRuntime {
      return {
        kind: 'bridge',
        reply: (request, replyOptions) =>
          new Promise<string>((resolve, reject) => {
            const line = lineOf(tenantId);
            const id = request.eventId;
            if (!line.socket && line.pending.size >= options.maxWaiting)
              return reject(new Error(`${options.maxWaiting} messages already wait for the agent bridge`));
            if (replyOptions.signal.aborted)
              return reject(replyOptions.signal.reason instanceof Error ? replyOptions.signal.reason : new Error('aborted'));
            const pending: Pending = { request, options: replyOptions, resolve, reject, sentOn: undefined, waitTimer: undefined };
            const superseded = line.pending.get(id);
            if (superseded) {
              clearTimeout(superseded.waitTimer);
              superseded.reject(new Error('superseded by a newer attempt'));
            }
            line.pending.set(id, pending);
            replyOptions.signal.addEventListener(
              'abort',
              () => {
                if (line.pending.get(id) !== pending) return;
                line.pending.delete(id);
                clearTimeout(pending.waitTimer);
                if (pending.sentOn && pending.sentOn === line.socket) send(pending.sentOn, { type: 'cancel', id });
                reject(replyOptions.signal.reason instanceof Error ? replyOptions.signal.reason : new Error('aborted'));
              },
              { once: true },
            );
            dispatch(line, id, pending);
          }),
      };
    },
    async close() {
      // connections still saying hello (or refused) are not in `lines`; wss.close waits for every client
      for (const client of wss.clients) if (![...lines.values()].some((line) => line.socket === client)) client.terminate();
      for (const line of lines.values()) {
        line.socket?.close(BRIDGE_CLOSE.shuttingDown, 'platform shutting down');
        for (const pending of line.pending.values()) {
          clearTimeout(pending.waitTimer);
          pending.reject(new Error('platform shutting down'));
        }
        line.pending.clear();
      }
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
};
export type BridgeHub = ReturnType<typeof createBridgeHub>;
