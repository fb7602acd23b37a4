import type { IncomingMessage } from 'node:http';
import type { CredentialSource } from '../auth/authenticate.ts';
import { BEARER_PREFIX } from './frames.ts';

const header = (req: IncomingMessage, name: string): string | undefined => {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
};

/**
 * The credential of an upgrade request, for the HTTP API's authenticator: its Authorization or
 * X-Api-Key header (clients that can set headers), else the offered subprotocol
 * `bearer.<token or API key>` (browsers), read as `Authorization: Bearer <token>`.
 */
export const credentialSourceOf = (req: IncomingMessage, clientAddressOf: (req: IncomingMessage) => string | undefined = (r) => r.socket.remoteAddress): CredentialSource => {
  const offered = (header(req, 'sec-websocket-protocol') ?? '').split(',').map((p) => p.trim());
  const bearer = offered.find((p) => p.startsWith(BEARER_PREFIX))?.slice(BEARER_PREFIX.length);
  const authorization = header(req, 'authorization');
  const apiKey = header(req, 'x-api-key');
  return {
    ip: clientAddressOf(req),
    get(name) {
      const lower = name.toLowerCase();
      if (lower === 'x-api-key') return apiKey;
      if (lower === 'authorization') return authorization ?? (bearer && apiKey === undefined ? `Bearer ${bearer}` : undefined);
      return header(req, lower);
    },
  };
};
