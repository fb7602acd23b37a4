/**
 * Canonical JSON straight from JSON text: `canonicalJsonText(text)` is the same string as
 * `canonicalJson(JSON.parse(text))` (chain.ts) for every valid JSON text, without building the value.
 * Audit verify recomputes a content hash per event from data and metadata as the store prints them;
 * parsing each into objects and serialising them again cost five times what this scan does.
 *
 * What makes the text form cheap: a string without escapes and without surrogates is already what
 * JSON.stringify writes for it, and so is a short integer. Everything else (escapes, surrogates,
 * other numbers) goes through JSON.parse and JSON.stringify on its own, so the result never differs
 * from the value path. Object keys are sorted by UTF-16 code units, as `Array.prototype.sort` does;
 * a key given twice keeps its last value, as JSON.parse does. Invalid text throws a SyntaxError.
 */
// The scan runs on module state rather than closures made per call: it is called twice per event.
let src = '';
let at = 0;
/** The text holds no backslash, control character or surrogate: every string in it is plain. */
let plainText = false;
const SPECIAL = /[\\\u0000-\u001f\ud800-\udfff]/;

const fail = (): never => {
  throw new SyntaxError(`not valid JSON at offset ${at}`);
};

const skipSpace = (): void => {
  for (;;) {
    const c = src.charCodeAt(at);
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) at++;
    else return;
  }
};

/** At an opening quote: the string token as JSON.stringify writes it; `at` moves past it. */
const string = (): string => {
  const start = at;
  if (plainText) {
    const end = src.indexOf('"', at + 1);
    if (end < 0) fail();
    at = end + 1;
    return src.slice(start, at);
  }
  let plain = true;
  for (let j = at + 1; ; j++) {
    const c = src.charCodeAt(j);
    if (c === 0x22) {
      at = j + 1;
      break;
    }
    if (c === 0x5c) {
      plain = false;
      j++;
    } else if (c < 0x20 || Number.isNaN(c)) fail();
    else if (c >= 0xd800 && c <= 0xdfff) plain = false;
  }
  const token = src.slice(start, at);
  return plain ? token : JSON.stringify(JSON.parse(token) as string);
};

const number = (): string => {
  const start = at;
  let integer = true;
  for (;;) {
    const c = src.charCodeAt(at);
    if (c >= 0x30 && c <= 0x39) at++;
    else if (c === 0x2d || c === 0x2b || c === 0x2e || c === 0x45 || c === 0x65) {
      integer &&= c === 0x2d && at === start;
      at++;
    } else break;
  }
  const token = src.slice(start, at);
  // An integer of up to 15 digits without a leading zero is already in its shortest form; -0 is not.
  const first = src.charCodeAt(start) === 0x2d ? start + 1 : start;
  if (integer && token.length <= 15 && at > first && (src.charCodeAt(first) !== 0x30 || at === first + 1) && token !== '-0') return token;
  return JSON.stringify(JSON.parse(token) as number);
};

const literal = (word: string): string => {
  if (!src.startsWith(word, at)) fail();
  at += word.length;
  return word;
};

const array = (): string => {
  at++;
  skipSpace();
  if (src.charCodeAt(at) === 0x5d) {
    at++;
    return '[]';
  }
  let out = '[';
  for (;;) {
    out += value(undefined);
    skipSpace();
    const c = src.charCodeAt(at++);
    if (c === 0x5d) return `${out}]`;
    if (c !== 0x2c) fail();
    out += ',';
  }
};

const object = (omit: string | undefined): string => {
  at++;
  skipSpace();
  if (src.charCodeAt(at) === 0x7d) {
    at++;
    return '{}';
  }
  const keys: string[] = [];
  const members: string[] = [];
  for (;;) {
    skipSpace();
    if (src.charCodeAt(at) !== 0x22) fail();
    const token = string();
    const key = token.includes('\\') ? (JSON.parse(token) as string) : token.slice(1, -1);
    skipSpace();
    if (src.charCodeAt(at++) !== 0x3a) fail();
    const item = `${token}:${value(undefined)}`;
    // Insertion in key order (objects are small); an equal key replaces the earlier member.
    let slot = keys.length;
    while (slot > 0 && keys[slot - 1]! > key) slot--;
    if (slot > 0 && keys[slot - 1] === key) members[slot - 1] = item;
    else if (key !== omit) {
      keys.splice(slot, 0, key);
      members.splice(slot, 0, item);
    }
    skipSpace();
    const c = src.charCodeAt(at++);
    if (c === 0x7d) return `{${members.join(',')}}`;
    if (c !== 0x2c) fail();
  }
};

const value = (omit: string | undefined): string => {
  skipSpace();
  const c = src.charCodeAt(at);
  if (c === 0x22) return string();
  if (c === 0x7b) return object(omit);
  if (c === 0x5b) return array();
  if (c === 0x74) return literal('true');
  if (c === 0x66) return literal('false');
  if (c === 0x6e) return literal('null');
  if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return number();
  return fail();
};

const CONTROL = /[\u0000-\u001f]/;

/** Whether every string in the text is plain (see `plainText`), without the regular expression over surrogates. */
const isPlain = (text: string): boolean =>
  text.indexOf('\\') < 0 && (text as string & { isWellFormed(): boolean }).isWellFormed() && !CONTROL.test(text);

// Members of the object flatObject is sorting, reused from call to call.
const flatKeys: string[] = [];
const flatMembers: string[] = [];

/**
 * The common case, fast: an object laid out as PostgreSQL prints jsonb (`{"k": v, "k2": v2}`, no
 * whitespace outside it) whose strings are all plain. Its members are found with indexOf and sorted
 * where they lie; a nested value goes through the general scan. Anything else (a duplicate key, a
 * number that is not a short integer, other whitespace, a syntax error) answers undefined, and the
 * general scan does the whole text, so the result and its errors never differ from it.
 */
const flatObject = (text: string, omit: string | undefined): string | undefined => {
  const n = text.length;
  if (text.charCodeAt(0) !== 0x7b) return undefined;
  let i = 1;
  if (text.charCodeAt(i) === 0x7d) return n === 2 ? '{}' : undefined;
  let count = 0;
  for (;;) {
    if (text.charCodeAt(i) !== 0x22) return undefined;
    const keyEnd = text.indexOf('"', i + 1);
    if (keyEnd < 0 || text.charCodeAt(keyEnd + 1) !== 0x3a || text.charCodeAt(keyEnd + 2) !== 0x20) return undefined;
    const key = text.slice(i + 1, keyEnd);
    i = keyEnd + 3;
    const start = i;
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      const end = text.indexOf('"', i + 1);
      if (end < 0) return undefined;
      i = end + 1;
    } else if ((c >= 0x30 && c <= 0x39) || c === 0x2d) {
      // A short integer without a leading zero, as `number` keeps it; any other number goes the general way.
      const first = c === 0x2d ? i + 1 : i;
      let j = first;
      for (let d = text.charCodeAt(j); d >= 0x30 && d <= 0x39; d = text.charCodeAt(++j));
      const digits = j - first;
      const d = text.charCodeAt(j);
      if (digits === 0 || j - i > 15 || (digits > 1 && text.charCodeAt(first) === 0x30) || (c === 0x2d && digits === 1 && text.charCodeAt(first) === 0x30)) return undefined;
      if (d === 0x2e || d === 0x65 || d === 0x45) return undefined;
      i = j;
    } else if (c === 0x6e && text.startsWith('null', i)) i += 4;
    else if (c === 0x74 && text.startsWith('true', i)) i += 4;
    else if (c === 0x66 && text.startsWith('false', i)) i += 5;
    else if (c === 0x7b || c === 0x5b) {
      src = text;
      at = i;
      plainText = true;
      const nested = value(undefined);
      i = at;
      if (key !== omit) {
        count = insertMember(count, key, `"${key}":${nested}`);
        if (count < 0) return undefined;
      }
      const after = text.charCodeAt(i++);
      if (after === 0x7d) break;
      if (after !== 0x2c || text.charCodeAt(i++) !== 0x20) return undefined;
      continue;
    } else return undefined;
    if (key !== omit) {
      count = insertMember(count, key, `"${key}":${text.slice(start, i)}`);
      if (count < 0) return undefined;
    }
    const after = text.charCodeAt(i++);
    if (after === 0x7d) break;
    if (after !== 0x2c || text.charCodeAt(i++) !== 0x20) return undefined;
  }
  if (i !== n) return undefined;
  let out = '{';
  for (let k = 0; k < count; k++) out += k === 0 ? flatMembers[k]! : `,${flatMembers[k]!}`;
  return `${out}}`;
};

/** Inserts a member in key order among the first `count`; the new count, or -1 for a key given twice. */
const insertMember = (count: number, key: string, member: string): number => {
  let slot = count;
  while (slot > 0 && flatKeys[slot - 1]! > key) {
    flatKeys[slot] = flatKeys[slot - 1]!;
    flatMembers[slot] = flatMembers[slot - 1]!;
    slot--;
  }
  if (slot > 0 && flatKeys[slot - 1] === key) return -1;
  flatKeys[slot] = key;
  flatMembers[slot] = member;
  return count + 1;
};

export const canonicalJsonText = (text: string, omitTopLevelKey?: string): string => {
  try {
    if (text.charCodeAt(0) === 0x7b && isPlain(text)) {
      const fast = flatObject(text, omitTopLevelKey);
      if (fast !== undefined) return fast;
    }
  } catch {
    // a nested value that is not JSON: the general scan below throws for it with its offset
  } finally {
    src = '';
  }
  src = text;
  at = 0;
  plainText = !SPECIAL.test(text);
  try {
    const out = value(omitTopLevelKey);
    skipSpace();
    if (at !== src.length) fail();
    return out;
  } finally {
    src = '';
  }
};
