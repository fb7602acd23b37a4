import { randomUUID } from 'node:crypto';
import http from 'node:http';
import pg from 'pg';
import type { Caller } from '../../commands/context.ts';
import { postMessage } from '../../commands/conversations/post-message.ts';
import { asTenantId } from '../../domain/shared/ids.ts';
import { percentile, round, seconds } from '../lib.ts';
import type { BenchResult } from '../lib.ts';
import { provisionTenants, spawnProjector, startApiStack } from './api-stack.ts';
import type { ApiStack, BenchTenant } from './api-stack.ts';

const RATE = Number(process.env.BENCH_LAG_RATE ?? 1_000); // commands a second, open loop
/**
 * `http` (default): POST /api/v1/conversations/:id/messages from this process over keep-alive
 * connections, accepted = the 201 received. `ports`: the command functions on the platform's
 * ports, as the HTTP handler calls them (no HTTP cost in the way).
 */
const VIA = process.env.BENCH_LAG_VIA === 'ports' ? 'ports' : 'http';
const MAX_IN_FLIGHT = 256; // past this the generator falls behind its schedule instead of queueing without bound
const TENANTS = 16;
const CONVERSATIONS = 8;
const PROBE_EVERY_MS = 20;
const TEXT = 'hello agent, please summarise the build status of the website and list the open tasks';

type Send = (tenant: BenchTenant, conversationId: string) => Promise<bigint>;

const viaPorts = (stack: ApiStack): Send => {
  const callers = new Map<string, Caller>();
  return async (tenant, conversationId) => {
    let caller = callers.get(tenant.tenantId);
    if (!caller) callers.set(tenant.tenantId, (caller = { tenantId: asTenantId(tenant.tenantId), actor: 'bench', correlationId: randomUUID() }));
    const accepted = await postMessage(stack.platform.ports, caller, conversationId, { text: TEXT });
    return BigInt(accepted.position!);
  };
};

const viaHttp = (stack: ApiStack): { send: Send; close(): void } => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const { hostname, port } = new URL(stack.baseUrl);
  const body = JSON.stringify({ text: TEXT });
  const send: Send = (tenant, conversationId) =>
    new Promise<bigint>((resolve, reject) => {
      const req = http.request(
        {
          agent, hostname, port, method: 'POST', path: `/api/v1/conversations/${conversationId}/messages`,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: `Bearer ${tenant.token}` },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString();
            if (res.statusCode !== 201) reject(new Error(`HTTP ${res.statusCode}: ${text.slice(0, 200)}`));
            else resolve(BigInt((JSON.parse(text) as { position: string }).position));
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  return { send, close: () => agent.destroy() };
};

/**
 * Commands at a fixed rate (open loop) on the real stack; for each, the time from the command being
 * accepted (its promise resolved / its 201 received) to the projector committing the batch that
 * holds its position, taken from the projector's in-process `applied` signal.
 */
export const projectionLagBench = async (url: string): Promise<BenchResult> => {
  const secs = seconds(15);
  // Production runs the projector as its own role: by default so does the bench (BENCH_LAG_PROJECTOR=in-process to compare).
  const separate = process.env.BENCH_LAG_PROJECTOR !== 'in-process';
  const stack = await startApiStack(url, { OPERATOR_REQUESTS_PER_MINUTE: '1000000' }, { projector: separate ? 'none' : 'inline' });
  const child = separate ? await spawnProjector(url, stack.schemas) : undefined;
  const httpClient = VIA === 'http' ? viaHttp(stack) : undefined;
  try {
    const signal = child ? await listenProjected(url, stack.schemas.readModels) : inProcessSignal(stack);
    const tenants = await provisionTenants(stack, { tenants: TENANTS, conversations: CONVERSATIONS, tier: 'enterprise', prefix: 'bench-lag' });
    const send = httpClient?.send ?? viaPorts(stack);

    // The projector's applied positions over time: monotonic, so each command's visibility is a search.
    const appliedAt: number[] = [];
    const appliedPos: bigint[] = [];
    signal.onApplied((position) => {
      if (appliedPos.length === 0 || position > appliedPos[appliedPos.length - 1]!) {
        appliedAt.push(performance.now());
        appliedPos.push(position);
      }
    });

    // Same-run baseline: SELECT 1 on the read-model pool the projector and the read side use; and
    // for reference the same on a connection of its own (the database round trip without pool waits).
    const probes: number[] = [];
    const directProbes: number[] = [];
    let watching = true;
    const direct = new pg.Client({ connectionString: url });
    await direct.connect();
    const probe = async (into: number[], query: () => Promise<unknown>) => {
      while (watching) {
        const t0 = performance.now();
        await query();
        into.push(performance.now() - t0);
        await new Promise((resolve) => setTimeout(resolve, PROBE_EVERY_MS));
      }
    };
    const prober = Promise.all([probe(probes, () => stack.storage.db.query('SELECT 1')), probe(directProbes, () => direct.query('SELECT 1'))]);

    const accepted: Array<{ at: number; position: bigint }> = [];
    const failures = new Map<string, number>();
    let issued = 0;
    let inFlight = 0;
    let behindMax = 0;
    const started = performance.now();
    const deadline = started + secs * 1000;
    const pending = new Set<Promise<void>>();
    while (performance.now() < deadline) {
      const due = Math.floor(((performance.now() - started) / 1000) * RATE);
      behindMax = Math.max(behindMax, due - issued);
      while (issued < due && inFlight < MAX_IN_FLIGHT) {
        const tenant = tenants[issued % TENANTS]!;
        const conversationId = tenant.conversationIds[Math.floor(issued / TENANTS) % CONVERSATIONS]!;
        issued++;
        inFlight++;
        const p: Promise<void> = send(tenant, conversationId).then(
          (position) => void accepted.push({ at: performance.now(), position }),
          (error: unknown) => {
            const key = (error as Error).message.slice(0, 80);
            failures.set(key, (failures.get(key) ?? 0) + 1);
          },
        ).finally(() => {
          inFlight--;
          pending.delete(p);
        });
        pending.add(p);
      }
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    const generatorSeconds = (performance.now() - started) / 1000;
    await Promise.all([...pending]);
    const acceptedSeconds = (performance.now() - started) / 1000;
    const last = accepted.reduce((max, a) => (a.position > max ? a.position : max), 0n);
    const caughtUp = await stack.platform.reads.waitFor(last, 10_000);
    await new Promise((resolve) => setTimeout(resolve, 50)); // let the watcher see the last batch
    watching = false;
    await signal.close();
    await prober;
    await direct.end();

    const lags: number[] = [];
    let visibleBeforeAccepted = 0;
    let neverSeen = 0;
    for (const a of accepted) {
      let lo = 0;
      let hi = appliedPos.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (appliedPos[mid]! >= a.position) hi = mid;
        else lo = mid + 1;
      }
      if (lo === appliedPos.length) {
        neverSeen++;
        continue;
      }
      const lag = appliedAt[lo]! - a.at;
      if (lag < 0) visibleBeforeAccepted++;
      lags.push(Math.max(0, lag));
    }
    lags.sort((a, b) => a - b);
    probes.sort((a, b) => a - b);
    directProbes.sort((a, b) => a - b);
    const p50 = percentile(lags, 50);
    const p99 = percentile(lags, 99);
    const directP50 = percentile(directProbes, 50);
    const errors = [...failures].map(([message, n]) => `${n}× ${message}`).join(' | ');
    return {
      scenario: 'projection-lag',
      metric: 'p99_accepted_to_visible',
      value: round(p99),
      unit: 'ms',
      p50: round(p50),
      p99: round(p99),
      baseline: { name: 'SELECT 1 round trip to the same PostgreSQL under the same load (p50 ms)', value: round(directP50, 3) },
      ratio: round(p99 / directP50),
      notes: [
        `target ${RATE} commands/s open loop for ${secs}s via ${VIA === 'ports' ? 'the command ports (postMessage on platform.ports, as the HTTP handler calls it; BENCH_LAG_VIA=http for HTTP)' : 'HTTP POST …/messages with a JWT (client in this process, keep-alive; accepted = 201 received; BENCH_LAG_VIA=ports skips HTTP)'}`,
        `achieved ${round(accepted.length / acceptedSeconds, 0)} accepted commands/s (${issued} issued in ${round(generatorSeconds, 1)}s, up to ${MAX_IN_FLIGHT} in flight, at most ${behindMax} behind schedule), ${failures.size === 0 ? 'no errors' : `errors: ${errors}`}`,
        `lag = projector commit signal (position reached) − command accepted; ${lags.length} commands measured, ${visibleBeforeAccepted} already visible when accepted (counted as 0), ${neverSeen} never seen${caughtUp.reached ? '' : ' (read models did not catch up within 10 s)'}; max ${round(lags[lags.length - 1] ?? Number.NaN)} ms; ${appliedPos.length} projector batches`,
        `baseline: SELECT 1 every ${PROBE_EVERY_MS} ms on a connection of its own during the load, p50 ${round(directP50, 3)} ms p99 ${round(percentile(directProbes, 99), 3)} ms (${directProbes.length} probes), the floor under any read; the same on the read-model pool, which the projector shares with the read side: p50 ${round(percentile(probes, 50), 3)} ms p99 ${round(percentile(probes, 99), 3)} ms (the difference is waiting for a pool connection)`,
        `setup: PostgreSQL store, pool ${stack.poolSize} each for events and read models, projector ${child ? 'in its own process (the projector role), its batches announced by NOTIFY' : 'in process'}; ${TENANTS} enterprise tenants × ${CONVERSATIONS} conversations round-robin`,
      ].join('; '),
    };
  } finally {
    httpClient?.close();
    await child?.stop();
    await stack.close();
  }
};

interface AppliedSignal {
  onApplied(listener: (position: bigint) => void): void;
  close(): Promise<void>;
}

/** Every batch the out-of-process projector commits, from its NOTIFY <schema>_projected '<position>'. */
const listenProjected = async (url: string, schema: string): Promise<AppliedSignal> => {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(`LISTEN "${schema}_projected"`);
  return {
    onApplied: (listener) => client.on('notification', (n) => n.payload && listener(BigInt(n.payload))),
    close: () => client.end(),
  };
};

const inProcessSignal = (stack: ApiStack): AppliedSignal => {
  const projector = stack.platform.projector;
  if (!projector) throw new Error('the stack runs no projector');
  let watching = true;
  let watcher: Promise<void> = Promise.resolve();
  return {
    onApplied(listener) {
      watcher = (async () => {
        let generation = projector.applied.generation;
        while (watching) {
          generation = await projector.applied.wait(generation, 100);
          if (projector.position !== undefined) listener(projector.position);
        }
      })();
    },
    async close() {
      watching = false;
      projector.applied.notify();
      await watcher;
    },
  };
};
