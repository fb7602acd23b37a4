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

export const windowHas = (window: IdWindow, id: string): boolean => window.some((chunk) => chunk.includes(id));

export const windowSize = (window: IdWindow): number => window.reduce((sum, chunk) => sum + chunk.length, 0);

/** Oldest first. */
export const windowIds = (window: IdWindow): readonly string[] => window.flat();
