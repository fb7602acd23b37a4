import { randomBytes } from 'node:crypto';
import type http from 'node:http';
import { readBody, sendJson, startLoopback } from '../../adapters/channels/doubles/loopback.ts';
import { newWamid } from './whatsapp-payloads.ts';

/**
 * A WhatsApp Cloud API (Graph) double on loopback (reference/whatsapp.md): `POST /{version}/{phone
 * number id}/messages` with a bearer token, answering Graph's success body or its error body
 * (`{error: {message, type, code, error_data, error_subcode, fbtrace_id}}`); `GET /{version}/{phone
 * number id}` describes a number. It knows which numbers and tokens are valid, records every call and
 * sent message, fails calls on demand (any Graph error code such as 130429, 131056, 131047; 5xx; a
 * hang) and, when asked, enforces the 24-hour window from the inbound messages it was told of.
 */
export type FakeNumber = { readonly phoneNumberId: string; readonly displayPhoneNumber: string; readonly verifiedName: string; readonly accessToken: string };
export type GraphCall = { readonly method: string; readonly path: string; readonly authorization: string | null; readonly body: unknown; status: number | null };
export type SentWhatsAppMessage = {
  readonly phoneNumberId: string;
  readonly to: string;
  readonly text: string;
  readonly wamid: string;
  readonly replyTo: string | null;
};
export type GraphFailure =
  | {
      readonly type: 'graph_error';
      readonly code: number;
      readonly status?: number;
      readonly message?: string;
      readonly subcode?: number;
      readonly details?: string;
    }
  | { readonly type: 'server_error'; readonly status?: number }
  /** No answer at all; with `afterProcessing` the message is sent first and only its answer is lost. */
  | { readonly type: 'timeout'; readonly afterProcessing?: boolean };

/** The documented codes, ready to inject. */
export const graphErrors = {
  throughput: { type: 'graph_error', code: 130429, message: '(#130429) Rate limit hit', details: 'Cloud API message throughput has been reached.' },
  pairRateLimit: {
    type: 'graph_error',
    code: 131056,
    message: '(#131056) (Business Account, Consumer Account) pair rate limit hit',
    details: 'Too many messages sent from the sender phone number to the same recipient phone number in a short period of time.',
  },
  outsideWindow: {
    type: 'graph_error',
    code: 131047,
    message: 'Re-engagement message',
    details: 'Message failed to send because more than 24 hours have passed since the customer last replied to this number.',
  },
} as const satisfies Record<string, GraphFailure>;

const DAY_MS = 24 * 60 * 60 * 1000;
const PATH = /^\/(v\d+\.\d+)\/([^/]+)(\/messages)?$/;

const graphError = (status: number, code: number, message: string, extra: { type?: string; subcode?: number; details?: string } = {}) => ({
  status,
  body: {
    error: {
      message,
      type: extra.type ?? 'OAuthException',
      code,
      ...(extra.details ? { error_data: { messaging_product: 'whatsapp', details: extra.details } } : {}),
      ...(extra.subcode ? { error_subcode: extra.subcode } : {}),
      fbtrace_id: randomBytes(9).toString('base64url'),
    },
  },
});

export const startWhatsAppDouble = async (options: { enforceWindow?: boolean; now?: () => number } = {}) => {
  const now = options.now ?? Date.now;
  const numbers = new Map<string, FakeNumber>();
  const calls: GraphCall[] = [];
  const sent: SentWhatsAppMessage[] = [];
  const lastInbound = new Map<string, number>();
  const scheduled: { failure: GraphFailure; skip: number; remaining: number }[] = [];

  const sendMessage = (number: FakeNumber, body: Record<string, unknown>) => {
    const text = (body.text as { body?: unknown } | undefined)?.body;
    const to = body.to;
    if (body.messaging_product !== 'whatsapp' || typeof to !== 'string' || body.type !== 'text' || typeof text !== 'string' || text.length === 0)
      return graphError(400, 100, '(#100) Invalid parameter', { details: 'messaging_product, to, type text and text.body are required' });
    if (text.length > 4096) return graphError(400, 100, '(#100) Param text[body] must be at most 4096 characters long.');
    if (options.enforceWindow && !(now() - (lastInbound.get(`${number.phoneNumberId}\u0000${to}`) ?? -Infinity) < DAY_MS))
      return graphError(400, graphErrors.outsideWindow.code, graphErrors.outsideWindow.message, { details: graphErrors.outsideWindow.details });
    const wamid = newWamid(to);
    sent.push({ phoneNumberId: number.phoneNumberId, to, text, wamid, replyTo: (body.context as { message_id?: string } | undefined)?.message_id ?? null });
    return { status: 200, body: { messaging_product: 'whatsapp', contacts: [{ input: to, wa_id: to }], messages: [{ id: wamid }] } };
  };

  const answerFailure = (res: http.ServerResponse, failure: GraphFailure, call: GraphCall, perform: () => unknown) => {
    const reply = (r: { status: number; body: unknown }) => ((call.status = r.status), sendJson(res, r.status, r.body));
    if (failure.type === 'graph_error')
      return reply(
        graphError(failure.status ?? 400, failure.code, failure.message ?? `(#${failure.code}) error`, { subcode: failure.subcode, details: failure.details }),
      );
    if (failure.type === 'server_error') return reply(graphError(failure.status ?? 500, 131000, 'Something went wrong', { type: 'OAuthException' }));
    if (failure.afterProcessing) perform();
    loopback.hold(res);
  };

  const loopback = await startLoopback(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://double');
    const raw = await readBody(req);
    let body: unknown = null;
    try {
      body = raw.length > 0 ? JSON.parse(raw.toString('utf8')) : null;
    } catch {
      return sendJson(res, 400, graphError(400, 100, '(#100) The parameter body is not valid JSON').body);
    }
    const call: GraphCall = { method: req.method ?? '', path: url.pathname, authorization: req.headers.authorization ?? null, body, status: null };
    calls.push(call);
    const reply = (r: { status: number; body: unknown }) => ((call.status = r.status), sendJson(res, r.status, r.body));
    const match = PATH.exec(url.pathname);
    if (!match) return reply(graphError(400, 2500, 'Unknown path components', { type: 'OAuthException' }));
    const bearer = /^Bearer (.+)$/.exec(call.authorization ?? '')?.[1];
    if (bearer === undefined) return reply(graphError(400, 2500, 'An active access token must be used to query information about the current user.'));
    const number = numbers.get(match[2]!);
    if (number && number.accessToken !== bearer) return reply(graphError(401, 190, 'Invalid OAuth access token - Cannot parse access token'));
    if (!number)
      return reply(
        graphError(
          400,
          100,
          `Unsupported post request. Object with ID '${match[2]}' does not exist, cannot be loaded due to missing permissions, or does not support this operation.`,
          { type: 'GraphMethodException', subcode: 33 },
        ),
      );
    const isSend = req.method === 'POST' && match[3] === '/messages';
    const perform = () =>
      isSend
        ? sendMessage(number, (body ?? {}) as Record<string, unknown>)
        : {
            status: 200,
            body: { display_phone_number: number.displayPhoneNumber, verified_name: number.verifiedName, quality_rating: 'GREEN', id: number.phoneNumberId },
          };
    if (!isSend && !(req.method === 'GET' && match[3] === undefined)) return reply(graphError(400, 100, 'Unsupported request'));
    const failure = isSend ? scheduled[0] : undefined;
    if (failure && failure.skip > 0) failure.skip--;
    else if (failure) {
      if (--failure.remaining === 0) scheduled.shift();
      return answerFailure(res, failure.failure, call, perform);
    }
    reply(perform());
  });

  return {
    /** The base URL (WHATSAPP_GRAPH_URL); any `vNN.N` version path is accepted. */
    graphUrl: loopback.url,
    addNumber(n: Partial<FakeNumber> = {}): FakeNumber {
      const number: FakeNumber = {
        phoneNumberId: n.phoneNumberId ?? String(100_000_000_000_000 + numbers.size + 1),
        displayPhoneNumber: n.displayPhoneNumber ?? `+1 555 010 ${String(1000 + numbers.size).slice(-4)}`,
        verifiedName: n.verifiedName ?? 'Tenant Co',
        accessToken: n.accessToken ?? `EAAG${randomBytes(60).toString('base64url')}`,
      };
      numbers.set(number.phoneNumberId, number);
      return number;
    },
    /** The access token stops working (190). */
    rotateToken(phoneNumberId: string): FakeNumber {
      const number = { ...numbers.get(phoneNumberId)!, accessToken: `EAAG${randomBytes(60).toString('base64url')}` };
      numbers.set(phoneNumberId, number);
      return number;
    },
    /** The user wrote to the number at `at` (epoch ms): opens the 24-hour window when it is enforced. */
    userWrote(phoneNumberId: string, waId: string, at: number = now()): void {
      lastInbound.set(`${phoneNumberId}\u0000${waId}`, at);
    },
    /** After `skip` send calls go through, the next `times` fail this way. */
    failNext(failure: GraphFailure, options: { times?: number; skip?: number } = {}): void {
      scheduled.push({ failure, skip: options.skip ?? 0, remaining: options.times ?? 1 });
    },
    calls: calls as readonly GraphCall[],
    sent: (phoneNumberId?: string) => sent.filter((m) => phoneNumberId === undefined || m.phoneNumberId === phoneNumberId),
    close: () => loopback.close(),
  };
};

export type WhatsAppDouble = Awaited<ReturnType<typeof startWhatsAppDouble>>;
