import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { BODY_LIMIT_BYTES, jsonBody } from '../../adapters/http/body.ts';
import { notFoundHandler, problemMiddleware } from '../../adapters/http/problem.ts';
import { requestContext } from '../../adapters/http/request-context.ts';
import { AppError } from '../../domain/shared/errors.ts';
import type { ErrorKind } from '../../domain/shared/errors.ts';
import { silent } from '../auth/fixtures.ts';
import { serve } from './serve.ts';

const SECRET = 'ocs_leak_this_would_be_bad';

describe('problem details: every failure is RFC 7807, and no client mistake becomes a 500', () => {
  let server: Awaited<ReturnType<typeof serve>>;
  const logged: unknown[] = [];
  beforeAll(async () => {
    const app = express();
    app.use(requestContext());
    const input = z.object({ task: z.string().min(1), nested: z.object({ n: z.number() }).optional() }).strict();
    app.post('/things', ...jsonBody(), (req, res) => {
      res.status(201).json(input.parse(req.body));
    });
    app.get('/app-error/:kind', (req) => {
      throw new AppError(req.params.kind as ErrorKind, `some_${req.params.kind}`, 'the domain said no', { tier: 'free' });
    });
    app.get('/boom', () => {
      throw new Error(`database password=hunter2 and ${SECRET}`);
    });
    app.get('/async-boom', async () => {
      await Promise.resolve();
      throw new TypeError(`cannot read ${SECRET}`);
    });
    app.use(notFoundHandler);
    const log = Object.assign(Object.create(silent), { error: (obj: unknown) => logged.push(obj) });
    app.use(problemMiddleware(log));
    server = await serve(app);
  });
  afterAll(() => server.close());

  const post = (body: string | Buffer, contentType = 'application/json') =>
    fetch(`${server.url}/things`, { method: 'POST', headers: { 'content-type': contentType }, body });
  const problemOf = async (res: Response) => {
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ status: res.status, type: expect.stringMatching(/^urn:openclaw:problem:/), title: expect.any(String), detail: expect.any(String) });
    return body;
  };

  it('a valid body passes through', async () => {
    const res = await post(JSON.stringify({ task: 'x' }));
    expect(res.status).toBe(201);
  });

  it('malformed JSON is 400 malformed_json, without echoing the body', async () => {
    for (const body of ['{"task":', '{task: 1}', '"just a string"', 'null', '\u0000']) {
      const res = await post(body);
      expect(res.status, body).toBe(400);
      const problem = await problemOf(res);
      expect(problem.code).toBe('malformed_json');
      expect(JSON.stringify(problem)).not.toContain('task');
    }
  });

  it('a body that is not JSON is 415', async () => {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const res = await post('task=x', type);
      expect(res.status, type).toBe(415);
      expect((await problemOf(res)).code).toBe('unsupported_media_type');
    }
    const noType = await fetch(`${server.url}/things`, { method: 'POST', body: new Uint8Array([123, 125]) });
    expect(noType.status).toBe(415);
  });

  it('over 1 MiB is 413, whether announced by Content-Length or streamed', async () => {
    const big = JSON.stringify({ task: 'x'.repeat(BODY_LIMIT_BYTES) });
    const res = await post(big);
    expect(res.status).toBe(413);
    expect((await problemOf(res)).code).toBe('payload_too_large');
    const stream = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(big));
        controller.close();
      },
    });
    const chunked = await fetch(`${server.url}/things`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: stream, duplex: 'half' } as RequestInit);
    expect(chunked.status).toBe(413);
  });

  it('exactly at the limit is accepted', async () => {
    const padding = BODY_LIMIT_BYTES - JSON.stringify({ task: '' }).length;
    const res = await post(JSON.stringify({ task: 'y'.repeat(padding) }));
    expect(res.status).toBe(201);
  });

  it('a zod error is 400 with the path of every issue', async () => {
    const res = await post(JSON.stringify({ task: '', nested: { n: 'one' }, extra: true }));
    expect(res.status).toBe(400);
    const problem = await problemOf(res);
    expect(problem.code).toBe('validation_failed');
    const paths = (problem.errors as { path: string }[]).map((e) => e.path).sort();
    expect(paths).toEqual(['', 'nested.n', 'task']);
  });

  it.each([
    ['validation', 400],
    ['not_found', 404],
    ['conflict', 409],
    ['forbidden', 403],
    ['limit', 403],
    ['unavailable', 503],
  ])('AppError kind %s is %i with its code and details', async (kind, status) => {
    const res = await fetch(`${server.url}/app-error/${kind}`);
    expect(res.status).toBe(status);
    expect(await problemOf(res)).toMatchObject({ code: `some_${kind}`, detail: 'the domain said no', tier: 'free' });
    if (status === 503) expect(res.headers.get('retry-after')).toBe('1');
  });

  it('an unknown route is a 404 problem', async () => {
    const res = await fetch(`${server.url}/nowhere?x=1`, { method: 'PUT' });
    expect(res.status).toBe(404);
    expect((await problemOf(res)).code).toBe('route_not_found');
  });

  it('an unexpected error is a 500 that leaks nothing, carries the request id, and is logged', async () => {
    for (const path of ['/boom', '/async-boom']) {
      const res = await fetch(`${server.url}${path}`, { headers: { 'x-request-id': 'req-123' } });
      expect(res.status).toBe(500);
      const text = await res.text();
      expect(text).not.toContain('hunter2');
      expect(text).not.toContain(SECRET);
      expect(JSON.parse(text)).toMatchObject({ code: 'internal_error', detail: 'an unexpected error occurred', requestId: 'req-123' });
    }
    expect(logged).toHaveLength(2);
  });

  it('a malformed percent-encoding in the path is a client error', async () => {
    const res = await fetch(`${server.url}/app-error/%E0%A4%A`);
    expect(res.status).toBe(400);
  });
});
