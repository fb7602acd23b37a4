import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../runtime/config.ts';
import { prepareProcess } from '../../runtime/process-setup.ts';

/**
 * docs/operations.md: Kubernetes probes /healthz and /readyz on the metrics port; /healthz is
 * "503 starting/stopping around" the roles being up. While the roles drain after SIGTERM the
 * metrics port should no longer say ready.
 */
describe('the metrics port while the process stops', () => {
  it('/readyz on METRICS_PORT is not 200 while the roles are stopping', async () => {
    const setup = await prepareProcess(loadConfig({ METRICS_PORT: '0', DATA_DIR: '/tmp/rv-unused' }), 'test');
    let release!: () => void;
    const draining = new Promise<void>((resolve) => (release = resolve));
    const stop = setup.stopping(() => draining);
    const before = await fetch(`${setup.metricsUrl}/readyz`);
    expect(before.status).toBe(200);
    const stopped = stop();
    try {
      const during = await fetch(`${setup.metricsUrl}/readyz`);
      expect(during.status).not.toBe(200);
    } finally {
      release();
      await stopped;
    }
  });
});
