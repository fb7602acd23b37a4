import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

/**
 * docs/operations.md, Tracing: OpenTelemetry starts only when an OTEL_* exporter is named; without one
 * the SDK is not even loaded (about 900 modules: seconds of every CLI command's start). Each case is a
 * fresh process doing what a serving command does first (`prepareProcess`).
 */
const script = `
const { createRequire } = await import('node:module');
const { loadConfig } = await import('./runtime/config.ts');
const { prepareProcess } = await import('./runtime/process-setup.ts');
const setup = await prepareProcess(loadConfig({ DATA_DIR: '/tmp/tracing-start-unused' }), 'test');
const { trace } = await import('@opentelemetry/api');
const provider = trace.getTracerProvider().getDelegate();
const loaded = Object.keys(createRequire(import.meta.url).cache).some((path) => path.includes('@opentelemetry/sdk-node'));
console.log(JSON.stringify({ sdkLoaded: loaded, provider: provider.constructor.name }));
await setup.stopping(async () => undefined)();
`;

const run = async (env: Record<string, string>) => {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('OTEL_')));
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    env: { ...clean, ...env },
    timeout: 60_000,
  });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as { sdkLoaded: boolean; provider: string };
};

describe('tracing at process start', () => {
  it('without an OTEL_* exporter the SDK is not loaded and spans go nowhere', async () => {
    expect(await run({})).toEqual({ sdkLoaded: false, provider: 'NoopTracerProvider' });
  }, 90_000);

  it('with OTEL_TRACES_EXPORTER named, the SDK is loaded and registered before the roles', async () => {
    const started = await run({ OTEL_TRACES_EXPORTER: 'console' });
    expect(started.sdkLoaded).toBe(true);
    expect(started.provider).not.toBe('NoopTracerProvider');
  }, 90_000);
});
