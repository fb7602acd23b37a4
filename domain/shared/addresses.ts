/**
 * Which IP addresses a tenant may make the platform call: only globally routable unicast ones.
 * Loopback, private, link-local (cloud metadata at 169.254.169.254), unspecified, multicast and
 * reserved ranges are inside our network or nobody's, so a tenant naming one is a server-side
 * request forgery. Pure text arithmetic, so both the connect command and the connection's DNS
 * lookup use the same rule.
 */

type Range = readonly [base: bigint, prefix: number];

const V4_FORBIDDEN: readonly Range[] = [
  [0x00000000n, 8], // 0.0.0.0/8 "this network"
  [0x0a000000n, 8], // 10/8 private
  [0x64400000n, 10], // 100.64/10 carrier-grade NAT
  [0x7f000000n, 8], // 127/8 loopback
  [0xa9fe0000n, 16], // 169.254/16 link-local, cloud metadata
  [0xac100000n, 12], // 172.16/12 private
  [0xc0000000n, 24], // 192.0.0/24 protocol assignments
  [0xc0a80000n, 16], // 192.168/16 private
  [0xc6120000n, 15], // 198.18/15 benchmarking
  [0xe0000000n, 4], // 224/4 multicast
  [0xf0000000n, 4], // 240/4 reserved, broadcast
];

const V6_FORBIDDEN: readonly Range[] = [
  [0n, 128], // :: unspecified
  [1n, 128], // ::1 loopback
  [0xfc00n << 112n, 7], // fc00::/7 unique local
  [0xfe80n << 112n, 10], // fe80::/10 link-local
  [0xfec0n << 112n, 10], // fec0::/10 site-local (deprecated)
  [0xff00n << 112n, 8], // ff00::/8 multicast
  [0x0100n << 112n, 64], // 100::/64 discard
];

/** IPv6 ranges that carry an IPv4 address in their low 32 bits: it decides. */
const V6_EMBEDDING_V4: readonly Range[] = [
  [0xffffn << 32n, 96], // ::ffff:0:0/96 IPv4-mapped
  [0n, 96], // ::/96 IPv4-compatible (deprecated)
  [0x64ff9bn << 96n, 96], // 64:ff9b::/96 NAT64
];

const inRange = (value: bigint, bits: number, [base, prefix]: Range): boolean => value >> BigInt(bits - prefix) === base >> BigInt(bits - prefix);

const parseV4 = (text: string): bigint | undefined => {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^(0|[1-9]\d{0,2})$/.test(p) && Number(p) <= 255)) return undefined;
  return parts.reduce((sum, p) => (sum << 8n) | BigInt(p), 0n);
};

const parseV6 = (text: string): bigint | undefined => {
  let rest = text.replace(/%.*$/, '').toLowerCase();
  // a trailing dotted IPv4 (::ffff:127.0.0.1) is two 16-bit groups
  const lastColon = rest.lastIndexOf(':');
  if (rest.includes('.', lastColon)) {
    const v4 = parseV4(rest.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    rest = `${rest.slice(0, lastColon + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const halves = rest.split('::');
  if (halves.length > 2) return undefined;
  const groupsOf = (half: string) => (half ? half.split(':') : []);
  const head = groupsOf(halves[0]!);
  const after = halves.length === 2 ? groupsOf(halves[1]!) : [];
  if (![...head, ...after].every((g) => /^[0-9a-f]{1,4}$/.test(g))) return undefined;
  const missing = 8 - head.length - after.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const words = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...after];
  return words.reduce((sum, g) => (sum << 16n) | BigInt(`0x${g}`), 0n);
};

const forbiddenV4 = (value: bigint): boolean => V4_FORBIDDEN.some((r) => inRange(value, 32, r));

const forbiddenV6 = (value: bigint): boolean => {
  if (V6_FORBIDDEN.some((r) => inRange(value, 128, r))) return true;
  if (V6_EMBEDDING_V4.some((r) => inRange(value, 128, r))) return forbiddenV4(value & 0xffffffffn);
  if (inRange(value, 128, [0x2002n << 112n, 16])) return forbiddenV4((value >> 80n) & 0xffffffffn); // 6to4
  return false;
};

/** `literal` is an IP address (IPv4 dotted, or IPv6 with or without brackets); undefined when it is not one. */
export const isForbiddenAddress = (literal: string): boolean | undefined => {
  const text = literal.startsWith('[') && literal.endsWith(']') ? literal.slice(1, -1) : literal;
  const v4 = parseV4(text);
  if (v4 !== undefined) return forbiddenV4(v4);
  const v6 = text.includes(':') ? parseV6(text) : undefined;
  return v6 === undefined ? undefined : forbiddenV6(v6);
};

/**
 * A URL's host that is refused without looking anything up: a forbidden address literal, or
 * `localhost` and its subdomains (resolved to loopback by convention, RFC 6761). The WHATWG URL
 * parser has already turned `0x7f.1`, `2130706433` and the like into dotted IPv4.
 */
export const isForbiddenHost = (hostname: string): boolean => {
  const host = hostname.toLowerCase().replace(/\.+$/, '');
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  return isForbiddenAddress(host) === true;
};
