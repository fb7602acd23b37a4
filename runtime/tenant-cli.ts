import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { SingleBar } from 'cli-progress';
import { ConfigError, loadConfig } from './config.ts';

/**
 * Operator commands over the HTTP API of a running server: `--url` (or OPENCLAW_URL, else this
 * configuration's HOST:PORT — the embedded default's `npm start`) with the operator key
 * (`--operator-key`, OPERATOR_API_KEY, else DATA_DIR/operator-key as `dev` keeps it).
 */
export interface Target {
  readonly url: string;
  readonly operatorKey: string;
}

export const targetOf = async (options: { url?: string; operatorKey?: string }): Promise<Target> => {
  const config = loadConfig();
  const url = options.url ?? process.env.OPENCLAW_URL ?? `http://${config.HOST === '0.0.0.0' ? '127.0.0.1' : config.HOST}:${config.PORT}`;
  const operatorKey =
    options.operatorKey ??
    (process.env.OPERATOR_API_KEY || undefined) ??
    (await readFile(path.join(config.DATA_DIR, 'operator-key'), 'utf8').then((s) => s.trim(), () => undefined));
  if (!operatorKey) throw new ConfigError(`no operator key: pass --operator-key, set OPERATOR_API_KEY, or run against the embedded default's ${config.DATA_DIR}`);
  return { url: url.replace(/\/$/, ''), operatorKey };
};

class ApiFailure extends Error {}

const call = async <T>(target: { url: string }, credential: string, method: string, route: string, body?: unknown): Promise<T> => {
  const res = await fetch(`${target.url}/api/v1${route}`, {
    method,
    headers: { authorization: `Bearer ${credential}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  }).catch((error: unknown) => {
    throw new ApiFailure(`cannot reach ${target.url}: ${error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error)}`);
  });
  const text = await res.text();
  let parsed: T & { detail?: string; code?: string };
  try {
    parsed = (text ? JSON.parse(text) : {}) as T & { detail?: string; code?: string };
  } catch {
    // not our API answering (a proxy's error page, another service on that port)
    throw new ApiFailure(`${method} ${route}: ${res.status}, not a JSON answer (is ${target.url} this service?): ${text.replace(/\s+/g, ' ').slice(0, 120)}`);
  }
  if (!res.ok) throw new ApiFailure(`${method} ${route}: ${res.status} ${parsed.code ?? ''} ${parsed.detail ?? text}`.trim());
  return parsed;
};

/**
 * Until the read models hold what a command at `position` wrote (the server waits up to 2 s per
 * call): a key just issued authenticates only once it is projected, and on a server whose projector
 * runs elsewhere that is not at once.
 */
const projected = async (target: Target, tenant: string, position: string) => {
  for (let attempt = 0; attempt < 15; attempt++) {
    const res = await fetch(`${target.url}/api/v1/tenants/${tenant}?minPosition=${position}`, { headers: { authorization: `Bearer ${target.operatorKey}` } });
    await res.body?.cancel();
    if (res.ok && res.headers.get('x-read-model-lag') === null) return;
  }
  throw new ApiFailure(`the server's read models did not reach position ${position} in 30 s (is its projector running?)`);
};

const slugOf = (name: string) =>
  `${name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^[^a-z]+/, '').replace(/-+$/, '').slice(0, 32) || 'tenant'}`;

/** `onboard`: the tenant, then its first API key, printed once. */
export const onboard = async (target: Target, input: { name: string; email: string; tier: string; slug?: string; json: boolean }) => {
  const slug = input.slug ?? slugOf(input.name);
  await call(target, target.operatorKey, 'POST', '/tenants', { slug, name: input.name, email: input.email, tier: input.tier });
  const { key, position } = await call<{ key: string; position: string }>(target, target.operatorKey, 'POST', `/tenants/${slug}/api-keys`, { label: 'first key (onboard)' });
  await projected(target, slug, position);
  process.stdout.write(
    input.json ? `${JSON.stringify({ tenant: slug, tier: input.tier, apiKey: key })}\n` : `tenant ${slug} (${input.tier}) created\napi key: ${key}\n(shown once: keep it now)\n`,
  );
};

interface TenantLine {
  readonly tenantId: string;
  readonly name: string;
  readonly email: string | null;
  readonly tier: string;
  readonly status: string;
  readonly createdAt: string;
}

type TenantPages = (cursor: string | undefined) => Promise<{ items: TenantLine[]; next: string | null }>;

/** `tenants list`: every tenant (all pages of the operator's GET /tenants), as a table or a JSON array. */
export const listTenants = (target: Target, input: { json: boolean }) =>
  printTenants(
    (cursor) => call(target, target.operatorKey, 'GET', `/tenants?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`),
    input,
  );

/**
 * `tenants list --storage`: the same list read from the configured storage's read models (no server;
 * for the embedded default, stop `dev` first: PGlite has one writer). Names are revealed with the
 * master key (ENCRYPTION_KEY, or the embedded default's key file).
 */
export const listTenantsFromStorage = async (input: { json: boolean }) => {
  const config = loadConfig();
  const [{ openStorage }, { loadStorageMasterKeys }, { migrateReadModels }, { tenantList }, { PROJECTIONS }] = await Promise.all([
    import('./stores.ts'),
    import('./encryption.ts'),
    import('../adapters/projections/projector.ts'),
    import('../adapters/projections/read-side.ts'),
    import('../projections/index.ts'),
  ]);
  const master = await loadStorageMasterKeys(config);
  const storage = await openStorage(config, 'cli', { master });
  try {
    await migrateReadModels(storage.db, config.READ_MODEL_SCHEMA, PROJECTIONS);
    const page = tenantList(storage.db, config.READ_MODEL_SCHEMA, storage.codec);
    await printTenants((cursor) => page({ limit: 100, cursor }), input);
  } finally {
    await storage.close();
  }
};

const printTenants = async (pages: TenantPages, input: { json: boolean }) => {
  const tenants: TenantLine[] = [];
  for (let cursor: string | null | undefined; cursor !== null; ) {
    const page = await pages(cursor ?? undefined);
    tenants.push(...page.items);
    cursor = page.next;
  }
  if (input.json) return void process.stdout.write(`${JSON.stringify(tenants)}\n`);
  const rows = [['TENANT', 'NAME', 'TIER', 'STATUS', 'CREATED'], ...tenants.map((t) => [t.tenantId, t.name, t.tier, t.status, t.createdAt.slice(0, 19).replace('T', ' ')])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  process.stdout.write(rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + `\n${tenants.length} tenant(s)\n`);
};

interface Knight {
  readonly status: string;
  readonly progress?: number | null;
  readonly failure?: { stage?: string; reason?: string } | null;
}

const STEPS: Record<string, number> = { requested: 10, provisioning: 40, provisioned: 100, working: 100 };

/**
 * `deploy-knight`: the knight deployed for the tenant with a key issued for this call (revoked
 * after), then followed with a progress bar until its computer runs (exit 0) or it fails (exit 1).
 */
export const deployKnight = async (target: Target, input: { tenant: string; task: string; timeoutSeconds: number; json: boolean }): Promise<number> => {
  const issued = await call<{ key: string; keyId?: string; position: string }>(target, target.operatorKey, 'POST', `/tenants/${input.tenant}/api-keys`, { label: 'openclaw-service deploy-knight' });
  // Ctrl-C (or a TERM) while following: the key issued for this call is revoked before the process ends
  let interrupt: (() => void) | undefined;
  let wasInterrupted = false;
  const interrupted = new Promise<'interrupted'>((resolve) => (interrupt = () => ((wasInterrupted = true), resolve('interrupted'))));
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, interrupt!);
  let bar: SingleBar | undefined;
  try {
    await projected(target, input.tenant, issued.position);
    const { access_token: token } = await call<{ access_token: string }>(target, issued.key, 'POST', '/auth/token');
    if (wasInterrupted) {
      process.stderr.write('interrupted before the knight was deployed; the key issued for this call is revoked\n');
      return 130;
    }
    const { knightId } = await call<{ knightId: string }>(target, token, 'POST', '/knights', { task: input.task });
    bar = input.json ? undefined : new SingleBar({ format: `knight ${knightId} {bar} {percentage}% | {status}`, stream: process.stderr });
    bar?.start(100, 0, { status: 'requested' });
    const deadline = Date.now() + input.timeoutSeconds * 1000;
    let knight: Knight = { status: 'requested' };
    while (Date.now() < deadline) {
      const polled = await Promise.race([
        call<Knight>(target, token, 'GET', `/knights/${knightId}`).catch((error: unknown) => {
          if (error instanceof ApiFailure && error.message.includes(' 404 ')) return knight; // not projected yet
          throw error;
        }),
        interrupted,
      ]);
      if (polled === 'interrupted') break;
      knight = polled;
      bar?.update(STEPS[knight.status] ?? 0, { status: knight.status });
      if (knight.status === 'provisioned' || knight.status === 'working' || knight.status === 'failed' || knight.status === 'terminated') break;
      if ((await Promise.race([new Promise((r) => setTimeout(r, 500)), interrupted])) === 'interrupted') break;
    }
    bar?.stop();
    if (wasInterrupted) {
      process.stderr.write(`interrupted: knight ${knightId} goes on (DELETE /knights/${knightId} ends it); the key issued for this call is revoked\n`);
      return 130;
    }
    const running = knight.status === 'provisioned' || knight.status === 'working';
    const outcome = running ? 'running' : knight.status === 'failed' ? 'failed' : `still ${knight.status} after ${input.timeoutSeconds} s`;
    process.stdout.write(
      input.json
        ? `${JSON.stringify({ knightId, tenant: input.tenant, status: running ? 'running' : knight.status, failure: knight.failure ?? null })}\n`
        : `knight ${knightId}: ${outcome}${knight.failure ? ` (${knight.failure.stage}: ${knight.failure.reason})` : ''}\n`,
    );
    return running ? 0 : 1;
  } finally {
    bar?.stop();
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.off(signal, interrupt!);
    // revoked with the key itself: a failure before the token (not projected yet, the token call) leaves none behind either
    if (issued.keyId)
      await call(target, issued.key, 'DELETE', `/api-keys/${issued.keyId}`).catch((error: unknown) =>
        process.stderr.write(`could not revoke the key issued for this call (${error instanceof Error ? error.message : String(error)}): revoke ${issued.keyId} (DELETE /api-keys/${issued.keyId})\n`),
      );
  }
};

export { ApiFailure };
