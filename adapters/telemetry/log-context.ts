import { AsyncLocalStorage } from 'node:async_hooks';

/** Fields every log line written within some work carries (the logger's mixin adds them). */
export interface LogFields {
  readonly tenantId?: string;
  readonly requestId?: string;
  readonly consumer?: string;
}

const current = new AsyncLocalStorage<LogFields>();

/** The fields of the work running now (none outside any). */
export const logFields = (): LogFields => current.getStore() ?? {};

/** Runs `fn` with `fields` added to every log line it writes, however deep and however asynchronous. */
export const withLogFields = <T>(fields: LogFields, fn: () => T): T => current.run({ ...logFields(), ...fields }, fn);

/** The tenant of a batch of events when they all have one, else none (a batch across tenants names none). */
export const tenantOfEvents = (events: readonly { readonly metadata: { readonly tenantId?: string | undefined } }[]): string | undefined => {
  const first = events[0]?.metadata.tenantId;
  return first !== undefined && events.every((e) => e.metadata.tenantId === first) ? first : undefined;
};
