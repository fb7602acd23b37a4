/**
 * A real single-node Apache Kafka (KRaft) broker for tests and local development, run from its
 * Maven Central jars (pom.xml) with the settings in server.properties. Each start gets its own
 * folder (properties, data, logs) under .tmp/ and free loopback ports unless told otherwise, so
 * parallel runs on one machine do not collide.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';

const HERE = import.meta.dirname;
const LIB = path.join(HERE, 'lib');
const STAMP = path.join(LIB, '.pom-sha256');
const ROOT = path.resolve(HERE, '../..');

export interface BrokerOptions {
  /** The run's folder (properties, data, broker.log); a new one under .tmp/ when omitted. Reuse it to restart a broker. */
  readonly dir?: string;
  readonly brokerPort?: number;
  readonly controllerPort?: number;
  /** Java heap ceiling; the machine has 2 cores and other work to do. */
  readonly heap?: string;
  readonly timeoutMs?: number;
}

export interface Broker {
  /** `host:port` for KAFKA_BROKERS. */
  readonly brokers: string;
  readonly dir: string;
  readonly brokerPort: number;
  readonly controllerPort: number;
  readonly pid: number;
  /** Controlled shutdown (SIGTERM to the JVM), SIGKILL after `graceMs`. Resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
  /** kill -9 of the JVM: the broker vanishes as in a crash. */
  kill(): Promise<void>;
}

/** Copies the broker's jars into infra/kafka/lib once per version of pom.xml (Maven keeps its own cache in ~/.m2). */
export const ensureKafkaJars = (): string => {
  const pomHash = createHash('sha256').update(readFileSync(path.join(HERE, 'pom.xml'))).digest('hex');
  if (existsSync(STAMP) && readFileSync(STAMP, 'utf8') === pomHash) return LIB;
  process.stdout.write('Fetching the Kafka broker jars from Maven Central (first run only)…\n');
  rmSync(LIB, { recursive: true, force: true });
  const mvn = spawnSync('mvn', ['-q', '-B', 'dependency:copy-dependencies', `-DoutputDirectory=${LIB}`], { cwd: HERE, encoding: 'utf8' });
  if (mvn.error || mvn.status !== 0)
    throw new Error(
      `could not fetch the Kafka jars with Maven (${mvn.error?.message ?? `exit ${mvn.status}`}); Java 17 and Maven are needed\n${mvn.stdout ?? ''}${mvn.stderr ?? ''}`,
    );
  if (!readdirSync(LIB).some((f) => f.startsWith('kafka_2.13-'))) throw new Error(`Maven ran but ${LIB} holds no kafka_2.13 jar`);
  writeFileSync(STAMP, pomHash);
  return LIB;
};

export const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });

/** True when a broker at `brokers` answers a metadata request (a TCP connect alone is not enough). */
export const kafkaAnswers = async (brokers: string, timeoutMs = 3_000): Promise<boolean> => {
  const admin = new Kafka({
    clientId: 'openclaw-probe',
    brokers: brokers.split(','),
    connectionTimeout: timeoutMs,
    requestTimeout: timeoutMs,
    retry: { retries: 0 },
    logLevel: logLevel.NOTHING,
  }).admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return cluster.brokers.length > 0;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
};

const renderProperties = (dir: string, brokerPort: number, controllerPort: number) => {
  const values: Record<string, string> = { BROKER_PORT: String(brokerPort), CONTROLLER_PORT: String(controllerPort), LOG_DIR: path.join(dir, 'data') };
  const text = readFileSync(path.join(HERE, 'server.properties'), 'utf8').replace(/\$\{(\w+)\}/g, (_, name: string) => values[name]!);
  const file = path.join(dir, 'server.properties');
  writeFileSync(file, text);
  return file;
};

const tail = (file: string, lines = 30) => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n') : '(no log)');

/**
 * Formats the storage (once per folder) and starts the broker. The JVM runs under a small shell
 * watchdog that reads our stdin: when this process ends for any reason, even SIGKILL, the pipe
 * closes and the watchdog stops the broker, so no test run leaves a JVM behind.
 */
export const startKafkaBroker = async (options: BrokerOptions = {}): Promise<Broker> => {
  const lib = ensureKafkaJars();
  const dir = options.dir ?? path.join(ROOT, '.tmp', `kafka-${process.pid}-${randomBytes(3).toString('hex')}`);
  mkdirSync(dir, { recursive: true });
  const brokerPort = options.brokerPort ?? (await freePort());
  const controllerPort = options.controllerPort ?? (await freePort());
  const properties = renderProperties(dir, brokerPort, controllerPort);
  const classpath = `${lib}/*`;
  if (!existsSync(path.join(dir, 'data', 'meta.properties'))) {
    // Kafka cluster ids are 16 random bytes in URL-safe base64, what `StorageTool random-uuid` prints;
    // like Kafka's own Uuid.randomUuid, never one that starts with '-' (the tool's argument parser
    // would read it as an option: one format in 64 failed that way)
    let clusterId = randomBytes(16).toString('base64url');
    while (clusterId.startsWith('-')) clusterId = randomBytes(16).toString('base64url');
    const format = spawnSync('java', ['-Xmx128m', '-cp', classpath, 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', properties, '--ignore-formatted'], {
      encoding: 'utf8',
    });
    if (format.status !== 0) throw new Error(`formatting the Kafka storage failed: ${format.stderr || format.stdout}`);
  }
  const java = [
    `-Xmx${options.heap ?? '512m'}`,
    '-Xms128m',
    '-XX:+UseG1GC',
    '-XX:MaxGCPauseMillis=20',
    '-Djava.awt.headless=true',
    `-Dkafka.logs.dir=${dir}`,
    `-Dlog4j.configuration=file:${path.join(HERE, 'log4j.properties')}`,
    '-cp',
    classpath,
    'kafka.Kafka',
    properties,
  ];
  const watchdog = 'java "$@" >>"$OCS_KAFKA_DIR/stdout.log" 2>&1 </dev/null & echo $!; cat >/dev/null; kill $! 2>/dev/null; wait $!';
  const child = spawn('sh', ['-c', watchdog, 'kafka-watchdog', ...java], {
    env: { ...process.env, OCS_KAFKA_DIR: dir },
    stdio: ['pipe', 'pipe', 'ignore'],
  });
  const pid = await new Promise<number>((resolve, reject) => {
    child.stdout!.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
    child.once('exit', (code) => reject(new Error(`the Kafka watchdog exited (${code}) before starting the broker`)));
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const brokers = `127.0.0.1:${brokerPort}`;
  const stop = stopper(child, pid, exited);
  const deadline = Date.now() + (options.timeoutMs ?? 90_000);
  while (!(await kafkaAnswers(brokers, 2_000))) {
    if (!alive(pid) || Date.now() > deadline) {
      await stop(0);
      throw new Error(`the Kafka broker did not answer on ${brokers}; ${path.join(dir, 'broker.log')} ends:\n${tail(path.join(dir, 'broker.log'))}\n${tail(path.join(dir, 'stdout.log'), 10)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return { brokers, dir, brokerPort, controllerPort, pid, stop, kill: () => stop(0) };
};

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Closing stdin makes the watchdog SIGTERM the JVM and wait for it; past `graceMs`, SIGKILL. */
const stopper = (child: ChildProcess, pid: number, exited: Promise<void>) => {
  let stopping: Promise<void> | undefined;
  return (graceMs = 30_000) =>
    (stopping ??= (async () => {
      if (child.exitCode !== null) return;
      const killNow = () => {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      };
      if (graceMs <= 0) killNow();
      child.stdin!.end();
      const timer = setTimeout(killNow, Math.max(graceMs, 1));
      await exited;
      clearTimeout(timer);
    })());
};
