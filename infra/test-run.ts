/**
 * `npm test`: typecheck, lint (with the domain purity rule), then the whole vitest suite.
 * It makes sure the local PostgreSQL answers first (starting it if it is installed but stopped)
 * and that a Kafka broker answers (KAFKA_BROKERS, else one on 127.0.0.1:9092, else a broker of
 * this run's own from infra/kafka/), installs Chromium for the dashboard test when it is missing,
 * and stops only what it started, also when the suite fails.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import { kafkaAnswers, startKafkaBroker } from './kafka/broker.ts';
import type { Broker } from './kafka/broker.ts';

const step = (name: string, cmd: string, args: string[]): boolean => {
  const started = Date.now();
  process.stdout.write(`\n▶ ${name}\n`);
  const result = spawnSync(cmd, args, { stdio: 'inherit', env: process.env });
  process.stdout.write(`◀ ${name}: ${result.status === 0 ? 'ok' : `failed (exit ${result.status})`} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  return result.status === 0;
};

const reachable = (port: number, host = '127.0.0.1') =>
  new Promise<boolean>((resolve) => {
    const socket = net.connect(port, host);
    socket.setTimeout(1_000);
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => (socket.destroy(), resolve(false)));
  });

const pgctl = (action: 'start' | 'stop') => {
  if (!existsSync('/etc/postgresql')) return false;
  const [version] = readdirSync('/etc/postgresql');
  if (!version) return false;
  return spawnSync('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', action], { stdio: 'inherit' }).status === 0;
};

const ensurePostgres = async (): Promise<{ startedHere: boolean }> => {
  if (process.env.TEST_DATABASE_URL || (await reachable(5432))) return { startedHere: false };
  process.stdout.write('PostgreSQL is not answering on 127.0.0.1:5432; starting the local cluster\n');
  if (!pgctl('start')) throw new Error('PostgreSQL is not running and could not be started: the suite needs it');
  for (let i = 0; i < 50 && !(await reachable(5432)); i++) await new Promise((r) => setTimeout(r, 200));
  return { startedHere: true };
};

/** A broker that answers a metadata request: the one named, else one on the default port, else our own. */
const ensureKafka = async (): Promise<{ brokers: string; started?: Broker }> => {
  const candidate = process.env.KAFKA_BROKERS || '127.0.0.1:9092';
  if (await kafkaAnswers(candidate)) return { brokers: candidate };
  if (process.env.KAFKA_BROKERS) process.stdout.write(`KAFKA_BROKERS=${candidate} does not answer; `);
  process.stdout.write('starting a Kafka broker for this run (infra/kafka/)\n');
  const started = Date.now();
  const broker = await startKafkaBroker();
  process.stdout.write(`Kafka broker ${broker.brokers} answering after ${((Date.now() - started) / 1000).toFixed(1)} s (pid ${broker.pid}, ${broker.dir})\n`);
  return { brokers: broker.brokers, started: broker };
};

/**
 * The dashboard test drives Chromium (test/ws/dashboard.browser.test.ts): `CHROMIUM_PATH`, else
 * Debian's /usr/bin/chromium. That one, missing, is installed with apt-get: directly as root, else
 * through `sudo -n` (a CI runner's passwordless sudo). Not on Ubuntu, whose `chromium` package is only
 * a snap shim: there CHROMIUM_PATH names a browser the machine has (CI: the runner's Google Chrome).
 * If it cannot be had the test fails and says why — it never skips.
 */
const ensureChromium = () => {
  const fallback = '/usr/bin/chromium';
  const binary = process.env.CHROMIUM_PATH || fallback;
  if (existsSync(binary)) return;
  const cannot = (why: string) => process.stdout.write(`${binary} is missing and ${why}: the dashboard test will fail\n`);
  if (binary !== fallback) return cannot('CHROMIUM_PATH names it (nothing is installed for a browser of your choosing)');
  const osRelease = existsSync('/etc/os-release') ? readFileSync('/etc/os-release', 'utf8') : '';
  if (/^ID=["']?ubuntu/m.test(osRelease)) return cannot("Ubuntu's chromium package is a snap shim; set CHROMIUM_PATH to a Chrome or Chromium binary (e.g. /usr/bin/google-chrome)");
  const root = process.getuid?.() === 0;
  const sudo = !root && spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' }).status === 0;
  if (!root && !sudo) return cannot('apt-get needs root (not root, no passwordless sudo); install chromium or set CHROMIUM_PATH');
  process.stdout.write(`${binary} is missing (the dashboard test needs it): running ${sudo ? 'sudo -n ' : ''}apt-get update && apt-get install -y chromium\n`);
  const apt = (...args: string[]) =>
    (sudo
      ? spawnSync('sudo', ['-n', 'env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', ...args], { stdio: 'inherit' })
      : spawnSync('apt-get', args, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })
    ).status === 0;
  const updated = apt('update');
  const installed = updated && apt('install', '-y', 'chromium');
  if (installed && existsSync(binary)) process.stdout.write(`installed ${binary}\n`);
  else cannot(`could not be installed (apt-get ${updated ? 'install' : 'update'} failed)`);
};

const main = async () => {
  ensureChromium();
  const pg = await ensurePostgres();
  const kafka = await ensureKafka();
  process.env.KAFKA_BROKERS = kafka.brokers;
  const stopKafka = async (ok: boolean) => {
    if (!kafka.started) return;
    await kafka.started.stop();
    if (ok) rmSync(kafka.started.dir, { recursive: true, force: true });
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.once(signal, () => void stopKafka(false).finally(() => process.exit(130)));
  try {
    const ok = await runSuite();
    await stopKafka(ok);
    if (pg.startedHere) pgctl('stop');
    process.exit(ok ? 0 : 1);
  } catch (error) {
    await stopKafka(false);
    throw error;
  }
};

const runSuite = async (): Promise<boolean> => {
  const extra = process.argv.slice(2);
  let ok = true;
  if (extra.length === 0) {
    ok = step('typecheck', 'npx', ['tsc', '--noEmit', '-p', '.']) && ok;
    ok = step('lint', 'npx', ['eslint', '.']) && ok;
  }
  const report = '.tmp/vitest-report.json';
  ok = step('tests', 'npx', ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...extra]) && ok;
  if (existsSync(report)) {
    const r = JSON.parse(readFileSync(report, 'utf8')) as { numPassedTests: number; numFailedTests: number; numPendingTests: number; numTodoTests: number };
    process.stdout.write(`\nvitest: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped\n`);
  }
  return ok;
};

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
