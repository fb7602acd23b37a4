import type { InboundPlace } from './state.ts';

/**
 * Where a bot user's message goes in its conversation's history. Platforms may deliver a chat's
 * messages out of order (Telegram retries, parallel webhook connections); the history follows the
 * platform's ordering key instead. A message newer than every recent one of its chat takes its own
 * revision as its place (`seq`); one that arrived after a later message goes just before the earliest
 * later one: a decimal strictly between that message and whatever precedes it, the one in the middle
 * of the shortest that fit, so a gap splits about three times before it needs one more digit, in
 * whichever direction the late messages keep coming. PostgreSQL's `numeric` orders them exactly.
 * After `MAX_PLACE_DIGITS` fractional digits (the event schema's bound: some 600 messages, each older
 * than the one before, inside one gap) a late message takes its own revision instead, out of the
 * platform's order but recorded: the platform would otherwise retry it for days, in vain.
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
  const place = between(lower, upper);
  return place ? format(place) : String(nextRevision);
};

export const MAX_PLACE_DIGITS = 200;

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

/** `a·10^s` rounded down (a value is never negative here). */
const floorAt = (d: Decimal, s: number): bigint => (d.units * 10n ** BigInt(s)) / 10n ** BigInt(d.scale);

/** The middle one of the shortest decimals strictly between `a` and `b` (a < b), or undefined past the digit bound. */
const between = (a: Decimal, b: Decimal): Decimal | undefined => {
  for (let scale = 0; scale <= MAX_PLACE_DIGITS; scale++) {
    const first = floorAt(a, scale) + 1n;
    const bScaled = floorAt(b, scale);
    // b itself is excluded: when b is exactly representable at this scale, the last candidate is below it
    const last = rescaleExact(b, scale) ? bScaled - 1n : bScaled;
    if (first <= last) return { units: (first + last) / 2n, scale };
  }
  return undefined;
};

const rescaleExact = (d: Decimal, s: number): boolean => s >= d.scale || d.units % 10n ** BigInt(d.scale - s) === 0n;

const format = (d: Decimal): string => {
  if (d.scale === 0) return d.units.toString();
  const digits = d.units.toString().padStart(d.scale + 1, '0');
  const whole = digits.slice(0, -d.scale);
  const fraction = digits.slice(-d.scale).replace(/0+$/, '');
  return fraction ? `${whole}.${fraction}` : whole;
};
