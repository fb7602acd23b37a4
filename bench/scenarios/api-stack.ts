import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { pino } from 'pino';
import { startStack } from '../../runtime/stack.ts';
import type { Stack } from '../../runtime/stack.ts';

/**
 * The real stack for the API benchmarks, the way test/support/api-harness.ts starts it but on the
 * bench's database URL and with the production pool size: event store, projector and read models
 * on PostgreSQL (schemas of its own, dropped by `close()`), the HTTP API on a free loopback port.
 */
export type ApiStack = Stack;

/** The real stack on the bench's database with the production pool size, in schemas its `close()` drops. */
export const startApiStack = async (url: string, env: Record<string, string> = {}, options: { projector?: 'inline' | 'thread' | 'none'; agents?: boolean } = {}): Promise<ApiStack> => {
  const suffix = `${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const schemas = { events: `bench_api_ev_${suffix}`, readModels: `bench_api_rm_${suffix}` };
  const stack = await startStack({
    databaseUrl: url,
    schemas,
    // Errors (e.g. a failing projector batch) go to stderr; stdout carries the result lines.
    log: pino({ level: process.env.BENCH_LOG_LEVEL ?? 'error', base: undefined }, pino.destination(2)),
    env: { JWT_SECRET: `bench:${randomUUID()}${randomUUID()}`, ...env },
    ...(process.env.BENCH_PG_POOL_SIZE ? { poolSize: Number(process.env.BENCH_PG_POOL_SIZE) } : {}), // default 8, as in production
    ...(options.projector === undefined ? {} : { projector: options.projector }),
    ...(options.agents ? { agents: true } : {}),
  });
  return {
    ...stack,
    async close() {
      await stack.close();
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      try {
        await admin.query(`DROP SCHEMA IF EXISTS ${schemas.events} CASCADE; DROP SCHEMA IF EXISTS ${schemas.readModels} CASCADE`);
      } finally {
        await admin.end();
      }
    },
  };
};

/**
 * After a load generator hung up, requests it abandoned may still be running inside the stack:
 * wait until the log stops growing (two looks 500 ms apart), at most 5 s, before closing it.
 */
export const settle = async (stack: ApiStack): Promise<void> => {
  let head = await stack.storage.store.headPosition();
  for (let i = 0; i < 10; i++) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const next = await stack.storage.store.headPosition();
    if (next === head) return;
    head = next;
  }
};

/** One JSON call against /api/v1; throws unless the status is the expected one. */
export const call = async <T>(baseUrl: string, credential: string, method: string, route: string, status: number, body?: unknown): Promise<T> => {
  const res = await fetch(`${baseUrl}/api/v1${route}`, {
    method,
    headers: { authorization: `Bearer ${credential}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  if (res.status !== status) throw new Error(`${method} ${route}: expected ${status}, got ${res.status} ${text}`);
  return (text ? JSON.parse(text) : {}) as T;
};

export interface BenchTenant {
  readonly tenantId: string;
  /** A JWT (RFC 9068 access token) exchanged for the tenant's API key. */
  readonly token: string;
  readonly conversationIds: readonly string[];
}

/**
 * Through the HTTP API as users do it: the operator creates each tenant and issues its key, the key
 * is exchanged for a JWT, and the tenant starts its conversations. Returns once the read models
 * have applied all of it.
 */
export const provisionTenants = async (
  stack: ApiStack,
  options: { tenants: number; conversations: number; tier: 'free' | 'pro' | 'enterprise'; prefix: string },
): Promise<BenchTenant[]> => {
  const run = randomUUID().slice(0, 6);
  let last = 0n;
  const made = await Promise.all(
    Array.from({ length: options.tenants }, async (_, i) => {
      const slug = `${options.prefix}-${run}-${i}`;
      const created = await call<{ position: string }>(stack.baseUrl, stack.operatorKey, 'POST', '/tenants', 201, { slug, name: `Bench ${i}`, tier: options.tier });
      const issued = await call<{ key: string; position: string }>(stack.baseUrl, stack.operatorKey, 'POST', `/tenants/${slug}/api-keys`, 201, { label: 'bench' });
      const position = BigInt(issued.position) > BigInt(created.position) ? BigInt(issued.position) : BigInt(created.position);
      // the key must be in the read model before it authenticates anything
      await call(stack.baseUrl, stack.operatorKey, 'GET', `/tenants/${slug}?minPosition=${position}`, 200);
      const { access_token: token } = await call<{ access_token: string }>(stack.baseUrl, issued.key, 'POST', '/auth/token', 200);
      const conversationIds: string[] = [];
      for (let c = 0; c < options.conversations; c++) {
        const started = await call<{ conversationId: string; position: string }>(stack.baseUrl, token, 'POST', '/conversations', 201, { title: `bench ${c}` });
        conversationIds.push(started.conversationId);
        if (BigInt(started.position) > last) last = BigInt(started.position);
      }
      return { tenantId: slug, token, conversationIds };
    }),
  );
  const freshness = await stack.platform.reads.waitFor(last, 10_000);
  if (!freshness.reached) throw new Error(`read models did not catch up with the setup (at ${freshness.position}, want ${last})`);
  return made;
};

/**
 * A CommonJS file in a temporary folder, for worker threads (autocannon's `setupClient` in worker
 * mode, the open-loop generator): plain JavaScript, so it needs no TypeScript loader.
 */
export const writeTempModule = async (name: string, source: string): Promise<{ file: string; remove(): Promise<void> }> => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-api-'));
  const file = path.join(dir, name);
  writeFileSync(file, source);
  return { file, remove: () => rm(dir, { recursive: true, force: true }) };
};

/** The projector role in a process of its own, as production runs it; `stop()` ends it with SIGTERM. */
export const spawnProjector = async (url: string, schemas: { events: string; readModels: string }): Promise<{ stop(): Promise<void> }> => {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'runtime/cli.ts', 'projector'], {
    cwd: path.resolve(import.meta.dirname, '../..'),
    env: { ...process.env, DATABASE_URL: url, EVENT_STORE: 'postgres', EVENT_STORE_SCHEMA: schemas.events, READ_MODEL_SCHEMA: schemas.readModels, LOG_LEVEL: 'error' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (c: Buffer) => c.toString().includes('projector running') && resolve());
    child.once('exit', (code) => reject(new Error(`projector exited with ${code}`)));
  });
  return {
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
};
