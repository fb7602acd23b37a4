/**
 * Stripe's v1 bodies are form-encoded with brackets (`items[0][price]=p`, `metadata[k]=v`):
 * turned into nested objects (numeric keys become array positions), as Stripe reads them.
 */
export type FormValue = string | FormObject | FormValue[];
export interface FormObject {
  [key: string]: FormValue;
}

const put = (target: FormObject | FormValue[], keys: readonly string[], value: string): void => {
  const [head, ...rest] = keys as [string, ...string[]];
  const slot = target as Record<string, FormValue>;
  if (rest.length === 0) {
    slot[head] = value;
    return;
  }
  const nextIsIndex = /^\d+$/.test(rest[0]!);
  slot[head] ??= nextIsIndex ? [] : {};
  put(slot[head] as FormObject | FormValue[], rest, value);
};

export const parseForm = (body: string): FormObject => {
  const out: FormObject = {};
  for (const [name, value] of new URLSearchParams(body)) {
    const keys = name.replace(/\]/g, '').split('[');
    put(out, keys, value);
  }
  return out;
};

export const str = (value: FormValue | undefined): string | undefined => (typeof value === 'string' ? value : undefined);
export const obj = (value: FormValue | undefined): FormObject => (value && typeof value === 'object' && !Array.isArray(value) ? value : {});
export const list = (value: FormValue | undefined): FormValue[] => (Array.isArray(value) ? value : value && typeof value === 'object' ? Object.values(value) : []);
