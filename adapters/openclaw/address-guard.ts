import { promises as dns } from 'node:dns';
import type { LookupAddress } from 'node:dns';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { LookupFunction } from 'node:net';
import { isForbiddenAddress, isForbiddenHost } from '../../domain/shared/addresses.ts';
import { GatewayError } from './gateway-client.ts';

/** Every address a host name resolves to (the system resolver by default; tests inject their own DNS). */
export type Resolve = (hostname: string) => Promise<readonly LookupAddress[]>;

export const systemResolve: Resolve = (hostname) => dns.lookup(hostname, { all: true, verbatim: true });

/**
 * Said to the tenant (in its reply failure), alike for a name with a non-public address and for a
 * name that does not resolve at all, and neither retried: were they told apart, a tenant could map
 * which names exist in our internal DNS. No address, no resolver detail.
 */
const NO_PUBLIC_ADDRESS = 'gateway unreachable: its host has no public address';
const refused = () => new GatewayError(NO_PUBLIC_ADDRESS, false);
/** The resolver's answers that mean "no such name" (a temporary failure, EAI_AGAIN, is retried as before). */
const NO_SUCH_NAME = new Set(['ENOTFOUND', 'ENODATA', 'ENONAME']);

/**
 * Keeps a tenant's gateway calls on public addresses. `checkHost` refuses an address literal or
 * `localhost` before connecting (a literal is never looked up); `lookup` is the connection's own
 * DNS lookup, so the addresses checked are the ones connected to (a name that resolves once to a
 * public address and then to 169.254.169.254 is refused the second time: DNS rebinding). A name
 * with any forbidden address is refused whole.
 */
export interface AddressGuard {
  checkHost(hostname: string): void;
  /**
   * Connection pools of their own, whose every socket was opened through the guard's lookup: a
   * shared pool would hand a guarded request a socket opened without it to the same host and port.
   */
  agentFor(protocol: string): HttpAgent;
}

/** `allowPrivateNetworks` (GATEWAY_ALLOW_PRIVATE_NETWORKS): any address passes, still resolved through `resolve`. */
export const createAddressGuard = (options: { allowPrivateNetworks: boolean; resolve?: Resolve | undefined }): AddressGuard => {
  const lookup = guardedLookup(options.resolve ?? systemResolve, options.allowPrivateNetworks);
  const agents = { http: new HttpAgent({ keepAlive: true, lookup }), https: new HttpsAgent({ keepAlive: true, lookup }) };
  return {
    checkHost(hostname) {
      if (!options.allowPrivateNetworks && isForbiddenHost(hostname)) throw refused();
    },
    agentFor: (protocol) => (protocol === 'https:' ? agents.https : agents.http),
  };
};

/** A connection's DNS lookup that fails when any address of the name is not a public one (unless they are allowed). */
export const guardedLookup =
  (resolve: Resolve, allowPrivateNetworks = false): LookupFunction =>
  (hostname, options, callback) => {
    const family = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : (options.family ?? 0);
    resolve(hostname).then(
      (all) => {
        if (!allowPrivateNetworks && all.some((a) => isForbiddenAddress(a.address) !== false)) return callback(refused(), '');
        const usable = family === 0 ? all : all.filter((a) => a.family === family);
        if (usable.length === 0) return callback(allowPrivateNetworks ? Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }) : refused(), '');
        if (options.all) return callback(null, [...usable]);
        callback(null, usable[0]!.address, usable[0]!.family);
      },
      (error: NodeJS.ErrnoException) => callback(!allowPrivateNetworks && NO_SUCH_NAME.has(error.code ?? '') ? refused() : error, ''),
    );
  };
