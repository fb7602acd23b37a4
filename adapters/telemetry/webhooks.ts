import type { RequestHandler, Response } from 'express';
import { countWebhook } from './metrics.ts';

/**
 * What became of an inbound webhook, for `openclaw_webhook_requests_total{channel, outcome}`:
 * `accepted` (recorded), `duplicate` (a retry of one already recorded), `ignored` (nothing to record:
 * a sticker, an unknown customer), `rejected` (not the platform's: wrong secret or signature, no such
 * bot), `refused` (the tenant may not: suspended, over quota), `invalid` (a body we cannot take),
 * `error` (ours: 5xx, the platform retries).
 */
export type WebhookOutcome = 'accepted' | 'duplicate' | 'ignored' | 'rejected' | 'refused' | 'invalid' | 'error';

const OUTCOME = 'webhookOutcome';

/** Says what became of the webhook this response answers (otherwise its status tells). */
export const webhookOutcome = (res: Response, outcome: WebhookOutcome) => {
  res.locals[OUTCOME] = outcome;
};

const byStatus = (status: number): WebhookOutcome =>
  status >= 500 ? 'error' : status === 401 || status === 403 ? 'rejected' : status === 400 || status === 413 || status === 415 ? 'invalid' : status >= 400 ? 'refused' : 'accepted';

/** Counts every request of a webhook route when it is answered, by channel and outcome. */
export const countWebhooks =
  (channel: string): RequestHandler =>
  (_req, res, next) => {
    res.once('finish', () => {
      // a 5xx is ours whatever a handler said before failing
      const said = res.locals[OUTCOME] as WebhookOutcome | undefined;
      countWebhook(channel, res.statusCode >= 500 ? 'error' : (said ?? byStatus(res.statusCode)));
    });
    next();
  };
