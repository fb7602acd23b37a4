import type { Logger } from 'pino';
import { WebSocket } from 'ws';
import { chatWithRetries } from '../openclaw/gateway-client.ts';
import { BRIDGE_PROTOCOL_VERSION, FATAL_CLOSES, parseFrame, platformFrameSchema } from './bridge-protocol.ts';
import type { BridgeFrame } from './bridge-protocol.ts';

export interface AgentBridgeOptions {
  /** The platform's bridge endpoint, e.g. wss://platform.example/bridge. */
  readonly platformUrl: string;
  readonly tenantId: string;
  readonly token: string;
  /** The OpenClaw gateway on this VM (loopback) and its token. */
  readonly gateway: { readonly url: string; readonly token: string; readonly agentId: string };
  readonly log: Logger;
  readonly attemptTimeoutMs?: number;
  readonly retries?: number;
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
}

/** Replies finished but perhaps not delivered (the connection dropped): a resent request gets them again without asking twice. */
const FINISHED_KEPT = 1_000;

/**
 * The bridge on a tenant's VM: dials out to the platform (the platform never dials in), says
 * hello with its tenant and token, and relays each request to the local OpenClaw gateway,
 * streaming the reply back. It reconnects with jittered exponential backoff; requests in flight
 * when the connection drops are abandoned here and resent by the platform after the reconnect.
 * A refusal (4400, 4401, 4403) ends it: a refused token does not become valid by retrying. "Not
 * ready yet" (4503: its agent VM is still being provisioned, its token not yet recorded) is not a
 * refusal: it reconnects like after any other close.
 */
export const startAgentBridge = (options: AgentBridgeOptions) => {
  const { log } = options;
  const minBackoff = options.minBackoffMs ?? 250;
  const maxBackoff = options.maxBackoffMs ?? 30_000;
  const finished = new Map<string, string>();
  const inFlight = new Map<string, AbortController>();
  let socket: WebSocket | undefined;
  let attempt = 0;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let end!: (outcome: { code: number; reason: string }) => void;
  const done = new Promise<{ code: number; reason: string }>((resolve) => (end = resolve));

  const send = (ws: WebSocket, frame: BridgeFrame) => {
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(frame));
  };

  const answer = async (ws: WebSocket, id: string, sessionKey: string, text: string) => {
    const kept = finished.get(id);
    if (kept !== undefined) return send(ws, { type: 'done', id, text: kept });
    inFlight.get(id)?.abort();
    const controller = new AbortController();
    inFlight.set(id, controller);
    try {
      const reply = await chatWithRetries(
        {
          baseUrl: options.gateway.url,
          token: options.gateway.token,
          agentId: options.gateway.agentId,
          sessionKey,
          text,
          signal: controller.signal,
          onText: (soFar) => send(ws, { type: 'partial', id, text: soFar }),
        },
        { retries: options.retries ?? 2, attemptTimeoutMs: options.attemptTimeoutMs ?? 60_000 },
      );
      finished.set(id, reply);
      if (finished.size > FINISHED_KEPT) finished.delete(finished.keys().next().value!);
      send(ws, { type: 'done', id, text: reply });
    } catch (error) {
      if (!controller.signal.aborted) send(ws, { type: 'error', id, message: (error as Error).message.slice(0, 500) });
    } finally {
      if (inFlight.get(id) === controller) inFlight.delete(id);
    }
  };

  const connect = () => {
    if (stopped) return;
    const ws = new WebSocket(options.platformUrl, { handshakeTimeout: 10_000 });
    socket = ws;
    ws.on('open', () => send(ws, { type: 'hello', version: BRIDGE_PROTOCOL_VERSION, tenantId: options.tenantId, token: options.token }));
    ws.on('message', (raw) => {
      const frame = parseFrame(platformFrameSchema, raw);
      if (!frame) return;
      if (frame.type === 'welcome') {
        attempt = 0;
        log.info({ platform: options.platformUrl }, 'bridge connected');
      } else if (frame.type === 'request') void answer(ws, frame.id, frame.sessionKey, frame.text);
      else inFlight.get(frame.id)?.abort();
    });
    ws.on('error', (error) => log.warn({ err: error.message }, 'bridge connection error'));
    ws.on('close', (code, reasonBytes) => {
      const reason = reasonBytes.toString();
      for (const controller of inFlight.values()) controller.abort();
      inFlight.clear();
      if (stopped) return;
      if (FATAL_CLOSES.has(code)) {
        log.error({ code, reason }, 'the platform refused this bridge; stopping');
        stopped = true;
        end({ code, reason });
        return;
      }
      const delay = Math.min(maxBackoff, minBackoff * 2 ** attempt) * (0.5 + Math.random() / 2);
      attempt += 1;
      log.warn({ code, reason, retryInMs: Math.round(delay) }, 'bridge disconnected; reconnecting');
      timer = setTimeout(connect, delay);
    });
  };
  connect();

  return {
    done,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      for (const controller of inFlight.values()) controller.abort();
      socket?.close(1000, 'bridge stopping');
      end({ code: 1000, reason: 'stopped' });
    },
  };
};
