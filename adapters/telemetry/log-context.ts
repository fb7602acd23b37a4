import { AsyncLocalStorage } from 'node:async_hooks';
import { createContextKey, ROOT_CONTEXT } from '@opentelemetry/api';
import type { Context, ContextManager } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';

/** Fields every log line written within some work carries (the logger's mixin adds them). */
export interface LogFields {
  readonly tenantId?: string;
  readonly requestId?: string;
  readonly consumer?: string;
}

/**
 * The one AsyncLocalStorage of the process's work: it holds an OpenTelemetry Context, the log
 * fields are a value in it, and with tracing on the SDK's context manager (`sharedContextManager`)
 * keeps its spans in the same store. Two stores cost every promise of a request a second property,
 * which grows the promise's property array (bench api-command-tracing, docs/operations.md).
 */
const current = new AsyncLocalStorage<Context>();
const LOG_FIELDS = createContextKey('openclaw log fields');
const NO_FIELDS: LogFields = Object.freeze({});

const active = (): Context => current.getStore() ?? ROOT_CONTEXT;

/** The fields of the work running now (none outside any). */
export const logFields = (): LogFields => (active().getValue(LOG_FIELDS) as LogFields | undefined) ?? NO_FIELDS;

/** Runs `fn` with `fields` added to every log line it writes, however deep and however asynchronous. */
export const withLogFields = <T>(fields: LogFields, fn: () => T): T => {
  const context = active();
  const inherited = context.getValue(LOG_FIELDS) as LogFields | undefined;
  return current.run(context.setValue(LOG_FIELDS, inherited ? { ...inherited, ...fields } : fields), fn);
};

/**
 * OpenTelemetry's context manager on the store above (what AsyncLocalStorageContextManager does
 * on a store of its own; binding functions and emitters is inherited). Not disabled with the SDK:
 * the log fields live on after tracing shuts down.
 */
class SharedContextManager extends AsyncLocalStorageContextManager {
  override active(): Context {
    return active();
  }

  override with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(context: Context, fn: F, thisArg?: ThisParameterType<F>, ...args: A): ReturnType<F> {
    const cb = thisArg == null ? fn : (fn.bind(thisArg) as F);
    return current.run(context, cb, ...args);
  }

  override attach(context: Context): { dispose(): void } {
    const previous = active();
    current.enterWith(context);
    let disposed = false;
    return {
      dispose: () => {
        if (disposed) return;
        disposed = true;
        current.enterWith(previous);
      },
    };
  }

  override disable(): this {
    return this;
  }
}

export const sharedContextManager = (): ContextManager => new SharedContextManager();

/** The tenant of a batch of events when they all have one, else none (a batch across tenants names none). */
export const tenantOfEvents = (events: readonly { readonly metadata: { readonly tenantId?: string | undefined } }[]): string | undefined => {
  const first = events[0]?.metadata.tenantId;
  return first !== undefined && events.every((e) => e.metadata.tenantId === first) ? first : undefined;
};
