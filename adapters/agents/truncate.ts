/**
 * A reply that fits in `max` characters: as it is, or cut with a marker that says how much was
 * left out (never dropped silently). An empty reply says so instead of posting nothing.
 */
export const truncateReply = (text: string, max: number): string => {
  const trimmed = text.trim();
  if (trimmed.length === 0) return '(the agent sent an empty reply)';
  if (trimmed.length <= max) return trimmed;
  const marker = (cut: number) => `\n\n[… reply truncated: ${cut} more characters over the ${max}-character limit]`;
  let keep = max - marker(trimmed.length).length;
  // do not split a surrogate pair
  if (/[\uD800-\uDBFF]/.test(trimmed.charAt(keep - 1))) keep -= 1;
  return trimmed.slice(0, keep) + marker(trimmed.length - keep);
};
