import type { InboundPlace } from './state.ts';

/**
 * Where a bot user's message goes in its conversation's history. Platforms may deliver a chat's
 * messages out of order (Telegram retries, parallel webhook connections); the history follows the
 * platform's ordering key instead. A message newer than every recent one of its chat takes its own
 * revision as its place (`seq`); one that arrived after a later message goes just before the earliest
 * later one: a decimal strictly between that message and whatever precedes it. Decimals never run out
 * of room (each placement adds at most one digit), and PostgreSQL's `numeric` orders them exactly.
 */
export const placeInbound = (inbound: readonly InboundPlace[], order: number, nextRevision: number): string => {
  let later: InboundPlace | undefined;
  for (const p of inbound) if (p.order > order && (later === undefined || p.order < later.order)) later = p;
  if (!later) return String(nextRevision);
  const upper = parse(later.seq);
  // Every whole revision below the later message is an event (or the start), so its floor bounds it below.
  let lower = floorBelow(upper);
  for (const p of inbound) {
    const candidate = parse(p.seq);
    if (compare(candidate, upper) < 0 && compare(candidate, lower) > 0) lower = candidate;
  }
  return format(midpoint(lower, upper));
};

type Decimal = { readonly units: bigint; readonly scale: number };

const parse = (text: string): Decimal => {
  const [whole = '0', fraction = ''] = text.split('.');
  return { units: BigInt(whole + fraction), scale: fraction.length };
};

const rescale = (d: Decimal, scale: number): bigint => d.units * 10n ** BigInt(scale - d.scale);

const compare = (a: Decimal, b: Decimal): number => {
  const scale = Math.max(a.scale, b.scale);
  const x = rescale(a, scale);
  const y = rescale(b, scale);
  return x < y ? -1 : x > y ? 1 : 0;
};

/** The greatest whole number strictly below `d`. */
const floorBelow = (d: Decimal): Decimal => {
  const unit = 10n ** BigInt(d.scale);
  const whole = d.units / unit;
  return { units: d.units % unit === 0n ? whole - 1n : whole, scale: 0 };
};

const midpoint = (a: Decimal, b: Decimal): Decimal => {
  const scale = Math.max(a.scale, b.scale) + 1;
  return { units: (rescale(a, scale) + rescale(b, scale)) / 2n, scale };
};

const format = (d: Decimal): string => {
  if (d.scale === 0) return d.units.toString();
  const digits = d.units.toString().padStart(d.scale + 1, '0');
  const whole = digits.slice(0, -d.scale);
  const fraction = digits.slice(-d.scale).replace(/0+$/, '');
  return fraction ? `${whole}.${fraction}` : whole;
};
