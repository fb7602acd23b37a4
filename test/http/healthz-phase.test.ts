import { describe, expect, it } from 'vitest';
import { startHttpServer } from '../../adapters/http/server.ts';

describe('/healthz names the phase the process is in', () => {
  it('answers 503 "starting" before the roles are up, 200 "ok" once they are, 503 "stopping" while they drain', async () => {
    let phase: 'starting' | 'ready' | 'stopping' = 'starting';
    const http = await startHttpServer({ port: 0, host: '127.0.0.1', readiness: () => ({ ready: phase === 'ready', detail: { phase } }) });
    try {
      const health = async () => {
        const res = await fetch(`${http.url}/healthz`);
        return { status: res.status, body: (await res.json()) as { status: string } };
      };
      expect(await health()).toMatchObject({ status: 503, body: { status: 'starting' } });
      phase = 'ready';
      expect(await health()).toMatchObject({ status: 200, body: { status: 'ok' } });
      phase = 'stopping';
      expect(await health()).toMatchObject({ status: 503, body: { status: 'stopping' } });
    } finally {
      await http.close();
    }
  });
});
