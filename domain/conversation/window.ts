/**
 * The most recent ids of an unbounded stream, kept immutably and cheaply: ids sit in chunks of
 * CHUNK; full chunks are shared between successive states and only the newest chunk is copied on
 * a push, so folding 100,000 events copies a few dozen ids per event instead of the whole window.
 * A window asked to keep `keep` ids holds between `keep` and `keep + CHUNK` of the newest.
 */
export type IdWindow = readonly (readonly string[])[];

const CHUNK = 64;

export const emptyWindow: IdWindow = [];

export const windowPush = (window: IdWindow, id: string, keep: number): IdWindow => {
  const newest = window[window.length - 1];
  if (newest !== undefined && newest.length < CHUNK) return [...window.slice(0, -1), [...newest, id]];
  const sealed = (window.length - 1) * CHUNK >= keep ? window.slice(1) : window;
  return [...sealed, [id]];
};

/**
 * Full chunks never change and are shared by every later state, so each gets a Set once, on its
 * first lookup; only the newest, still-filling chunk is scanned: a lookup costs a few hash probes
 * and at most CHUNK comparisons instead of `keep` of them.
 */
const sealedSets = new WeakMap<readonly string[], ReadonlySet<string>>();
const sealedSet = (chunk: readonly string[]): ReadonlySet<string> => {
  let set = sealedSets.get(chunk);
  if (!set) sealedSets.set(chunk, (set = new Set(chunk)));
  return set;
};

export const windowHas = (window: IdWindow, id: string): boolean => {
  const last = window.length - 1;
  for (let i = 0; i < last; i++) if (sealedSet(window[i]!).has(id)) return true;
  return last >= 0 && window[last]!.includes(id);
};

export const windowSize = (window: IdWindow): number => window.reduce((sum, chunk) => sum + chunk.length, 0);

/** Oldest first. */
export const windowIds = (window: IdWindow): readonly string[] => window.flat();
