import { execFileSync } from 'node:child_process';
import { spawnSync } from 'node:child_process';
import { accessSync, chmodSync, constants, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { registry } from '../../adapters/telemetry/metrics.ts';
import { API_BASE_PATH } from '../../adapters/http/index.ts';
import { ENV_SCHEMA, ENV_VARS } from '../../runtime/config-schema.ts';
import { ROLE_NAMES } from '../../runtime/roles.ts';

// No container engine here: every deployment file is parsed and held against the code instead.
const root = path.resolve(import.meta.dirname, '../..');
const read = (file: string) => readFileSync(path.join(root, file), 'utf8');
const yamlOf = (file: string) => parse(read(file), { merge: true }) as Record<string, unknown>;

type Env = Record<string, string>;
interface ComposeService {
  image?: string;
  command?: string[];
  environment?: Env;
  ports?: string[];
}

/** `${NAME:?message}` and `${NAME:-default}` as compose would fill them from an infra/.env of sample values. */
const SAMPLE: Env = {
  POSTGRES_PASSWORD: 'pw',
  ENCRYPTION_KEY: Buffer.alloc(32, 1).toString('base64'),
  OPERATOR_API_KEY: 'ocs_aqwlywdng1hh_cGqJ1a5PJYFkorQ8RKRt_f4sEPPsZKbW5A77JO-5r38',
  JWT_SECRET: 'a-secret-of-at-least-thirty-two-characters',
  ORGO_API_KEY: 'sk_live_sample',
  STRIPE_SECRET_KEY: 'sk_test_sample0123456789',
  STRIPE_WEBHOOK_SECRET: 'whsec_sample0123456789',
  STRIPE_PRICE_PRO: 'price_pro_sample',
  STRIPE_PRICE_ENTERPRISE: 'price_enterprise_sample',
  PUBLIC_URL: 'https://openclaw.example.com',
};
const substitute = (value: string) =>
  value.replace(/\$\{([A-Z_]+)(?::[?-]([^}]*))?\}/g, (_m, name: string, fallback: string | undefined) => SAMPLE[name] ?? (value.includes(':-') ? (fallback ?? '') : 'x'));

/** The roles a service runs: `start --roles a,b` or a role command. */
const rolesOf = (args: readonly string[]) => {
  const at = args.indexOf('--roles');
  if (args[0] === 'start') return args[at + 1]!.split(',');
  return (ROLE_NAMES as readonly string[]).includes(args[0]!) ? [args[0]!] : [];
};

const metricNames = new Set((await registry.getMetricsAsJSON()).map((m) => m.name));
/** Every `openclaw_…` series an expression names exists in the registry (histograms by their _bucket/_count/_sum). */
const unknownMetrics = (expr: string) =>
  [...expr.matchAll(/\bopenclaw_[a-z_]+/g)].map((m) => m[0]).filter((name) => !metricNames.has(name.replace(/_(bucket|count|sum)$/, '')));

const compose = yamlOf('infra/docker-compose.yml') as { services: Record<string, ComposeService> };
const ours = Object.entries(compose.services).filter(([, s]) => s.image?.includes('openclaw-service'));
const k8s = parseAllDocuments(read('infra/k8s/openclaw.yaml')).map((d) => d.toJS() as Record<string, any>); // eslint-disable-line @typescript-eslint/no-explicit-any
const configMap = k8s.find((d) => d.kind === 'ConfigMap')!.data as Env;

/** Sample infra/.env lines (every key deploy.sh and the Kubernetes secret need), as an operator writes them. */
const SAMPLE_ENV = [
  ...Object.entries(SAMPLE).map(([k, v]) => `${k}=${v}`),
  'GRAFANA_ADMIN_PASSWORD=admin-sample',
  'DATABASE_URL=postgres://openclaw:pw@postgres.openclaw.svc:5432/openclaw',
];

/**
 * infra/deploy.sh run on a copy of infra/ with docker and kubectl replaced by recorders: the calls it
 * made in order (an env file handed to kubectl follows its call, each line as `  env: KEY=value`; what
 * it piped in follows as `  stdin: <base64>`).
 */
const dryDeploy = (target: string, envLines: readonly string[]) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'deploy-sh-'));
  try {
    mkdirSync(path.join(dir, 'infra/k8s'), { recursive: true });
    mkdirSync(path.join(dir, 'bin'));
    cpSync(path.join(root, 'infra/deploy.sh'), path.join(dir, 'infra/deploy.sh'));
    cpSync(path.join(root, 'infra/k8s/openclaw.yaml'), path.join(dir, 'infra/k8s/openclaw.yaml'));
    writeFileSync(path.join(dir, 'infra/.env'), `${envLines.join('\n')}\n`);
    // one record a call, written under a lock: the two ends of a pipe run at once
    const recorder = [
      '#!/usr/bin/env bash',
      'record="$(basename "$0")$(printf " %s" "$@")"',
      'for a in "$@"; do case "$a" in --from-env-file=*) record+=$\'\\n\'"$(sed "s/^/  env: /" "${a#--from-env-file=}")";; esac; done',
      '[[ -t 0 ]] || record+=$\'\\n\'"  stdin: $(base64 -w0)"',
      'exec 9>> "$CALLS.lock" && flock 9 && printf "%s\\n" "$record" >> "$CALLS"',
    ].join('\n');
    for (const tool of ['docker', 'kubectl']) {
      writeFileSync(path.join(dir, 'bin', tool), `${recorder}\n`);
      chmodSync(path.join(dir, 'bin', tool), 0o755);
    }
    const calls = path.join(dir, 'calls');
    writeFileSync(calls, '');
    const run = spawnSync('bash', [path.join(dir, 'infra/deploy.sh'), target], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, PATH: `${path.join(dir, 'bin')}:${process.env.PATH}`, CALLS: calls, REGISTRY: 'registry.example', OPENCLAW_IMAGE: 'openclaw-service:sample' },
    });
    return { status: run.status, stderr: run.stderr, calls: readFileSync(calls, 'utf8').split('\n').filter(Boolean) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};

/** Whether a `kubectl -l` selector (`k=v`, `k!=v`, comma-separated; none: everything) picks a manifest. */
const selects = (selector: string | undefined, doc: Record<string, any>) => // eslint-disable-line @typescript-eslint/no-explicit-any
  (selector ?? '').split(',').filter(Boolean).every((term) => {
    const [, key, not, value] = /^([^!=]+)(!?)=(.*)$/.exec(term)!;
    const labels = (doc.metadata?.labels ?? {}) as Env;
    return not ? labels[key!] !== value : labels[key!] === value;
  });
const selectorOf = (call: string) => /(?:^| )(?:-l|--selector)[ =](\S+)/.exec(call)?.[1]?.replace(/^'|'$/g, '');

describe('deployment files agree with the code', () => {
  it('docker-compose: every role is a service, every variable a service sets is one the configuration accepts (and parses)', () => {
    const roles = new Set(ours.flatMap(([, s]) => rolesOf(s.command ?? [])));
    expect([...roles].sort()).toEqual([...ROLE_NAMES].sort());
    for (const [name, service] of ours) {
      const env = Object.fromEntries(Object.entries(service.environment ?? {}).map(([k, v]) => [k, substitute(String(v))]));
      for (const key of Object.keys(env)) expect(ENV_VARS, `${name}: ${key}`).toContain(key);
      const parsed = ENV_SCHEMA.safeParse(Object.fromEntries(Object.entries(env).filter(([, v]) => v !== '')));
      expect(parsed.success, `${name}: ${JSON.stringify(parsed.error?.issues)}`).toBe(true);
      for (const role of rolesOf(service.command ?? [])) expect(ROLE_NAMES, name).toContain(role);
    }
    expect(compose.services.api!.environment!.PORT).toBe('8080');
    for (const dependency of ['postgres', 'kurrentdb', 'kafka', 'redis', 'prometheus', 'grafana', 'nginx']) expect(Object.keys(compose.services)).toContain(dependency);
  });

  it('docker-compose: the processes that face the outside know where they are reached, and the api serves billing when the billing role runs', () => {
    const envOf = (service: string) => Object.fromEntries(Object.entries(compose.services[service]!.environment ?? {}).map(([k, v]) => [k, substitute(String(v))]));
    // the api registers Telegram and WhatsApp webhooks at PUBLIC_URL; the saga hands agent VMs PUBLIC_URL's /bridge
    for (const service of ['api', 'saga']) expect(envOf(service).PUBLIC_URL, service).toMatch(/^https:\/\//);
    // POST /webhooks/stripe and the Checkout/portal links are served by the api process (nginx sends /webhooks/ there)
    const [api, billing] = [envOf('api'), envOf('billing')];
    for (const name of ['STRIPE_SECRET_KEY', 'STRIPE_WEBHOOK_SECRET', 'STRIPE_PRICE_PRO', 'STRIPE_PRICE_ENTERPRISE']) expect(api[name], name).toBe(billing[name]);
  });

  it('docker-compose: the stateful services write into their named volumes (a recreate keeps topics, offsets, data)', () => {
    const services = compose.services as Record<string, ComposeService & { volumes?: string[] }>;
    const volumes = Object.keys((yamlOf('infra/docker-compose.yml') as { volumes: Record<string, unknown> }).volumes);
    const mounted = (service: string) => (services[service]!.volumes ?? []).map((v) => v.split(':')).filter(([source]) => volumes.includes(source!)).map(([, target]) => target!);
    const inside = (service: string, dir: string) => mounted(service).some((m) => dir === m || dir.startsWith(`${m}/`));
    // apache/kafka writes to log.dirs (KAFKA_LOG_DIRS), by default /tmp/kraft-combined-logs
    const kafka = services.kafka!;
    expect(kafka.image).toMatch(/^apache\/kafka:/);
    const logDirs = String(kafka.environment?.KAFKA_LOG_DIRS ?? '/tmp/kraft-combined-logs').split(',');
    for (const dir of logDirs) expect(inside('kafka', dir), `kafka log.dirs ${dir} is not on a volume`).toBe(true);
    expect(inside('postgres', '/var/lib/postgresql/data')).toBe(true);
    expect(inside('kurrentdb', '/var/lib/kurrentdb')).toBe(true);
  });

  it("production never lets a tenant's gateway reach private addresses (the compose services and the Kubernetes config)", () => {
    const allowed = (value: unknown) => ENV_SCHEMA.shape.GATEWAY_ALLOW_PRIVATE_NETWORKS!.parse(value);
    for (const [name, service] of ours) expect(allowed(service.environment?.GATEWAY_ALLOW_PRIVATE_NETWORKS), name).toBe(false);
    expect(allowed(configMap.GATEWAY_ALLOW_PRIVATE_NETWORKS)).toBe(false);
  });

  it('nginx: TLS on 443, the API upstream on the port the api service listens on, the paths the server serves', () => {
    const conf = read('infra/nginx/nginx.conf');
    expect(conf).toMatch(/listen 443 ssl;/);
    expect(conf).toMatch(new RegExp(`server api:${compose.services.api!.environment!.PORT}[ ;]`));
    expect(conf).toContain(`location ${API_BASE_PATH}/ {`);
    for (const p of ['/healthz', '/openapi.json']) expect(conf).toContain(`location = ${p} { proxy_pass http://api; }`);
    expect(conf).toMatch(/Upgrade \$http_upgrade/);
    const mounted = compose.services.nginx as unknown as { volumes: string[] };
    for (const v of mounted.volumes) expect(existsSync(path.join(root, 'infra', v.split(':')[0]!)) || v.includes('certs'), v).toBe(true);
  });

  it("nginx: /readyz (every check's detail: database errors, hosts, lags) answers private networks only; /healthz stays public", () => {
    const conf = read('infra/nginx/nginx.conf');
    const block = (p: string) => new RegExp(`location\\s*=\\s*${p.replace('.', '\\.')}\\s*\\{([^}]*)\\}`).exec(conf)?.[1] ?? '';
    const readyz = block('/readyz');
    expect(readyz).toMatch(/proxy_pass http:\/\/api;/);
    const rules = [...readyz.matchAll(/\b(allow|deny)\s+([^;]+);/g)].map(([, verb, what]) => `${verb} ${what}`);
    // nginx takes the first rule that matches: private allows, then `deny all`
    expect(rules.at(-1), 'the last rule').toBe('deny all');
    const privateNets = ['127.0.0.0/8', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '::1', 'fc00::/7'];
    for (const rule of rules.slice(0, -1)) expect(privateNets.map((n) => `allow ${n}`), rule).toContain(rule);
    expect(rules.length).toBeGreaterThan(1);
    expect(block('/healthz')).not.toMatch(/\b(allow|deny)\b/);
  });

  it('nginx: every upstream follows its service to a new address after compose recreates it (no 502s from a stale IP)', () => {
    const conf = read('infra/nginx/nginx.conf');
    // Docker's embedded DNS, with answers kept briefly
    const resolver = /^\s*resolver\s+([^;]+);/m.exec(conf);
    expect(resolver?.[1], 'no resolver').toMatch(/^127\.0\.0\.11\b/);
    const valid = /valid=(\d+)s/.exec(resolver![1]!);
    expect(Number(valid?.[1]), 'resolver valid=').toBeLessThanOrEqual(30);
    // every upstream naming a compose service re-resolves it (`resolve` needs a shared zone and nginx 1.27.3+)
    const upstreams = [...conf.matchAll(/upstream\s+(\w+)\s*\{([^}]*)\}/g)];
    expect(upstreams.length).toBeGreaterThan(0);
    for (const [, name, body] of upstreams) {
      expect(body, name).toMatch(/\bzone\s+\w+/);
      for (const [, host, params] of body!.matchAll(/server\s+([\w.-]+):\d+([^;]*);/g)) {
        expect(Object.keys(compose.services), `${name}: ${host}`).toContain(host);
        expect(params, `${name}: server ${host} is resolved once, at start`).toMatch(/\bresolve\b/);
      }
    }
    const [major, minor, patch] = /^nginx:(\d+)\.(\d+)(?:\.(\d+))?/.exec(compose.services.nginx!.image!)!.slice(1).map((n) => Number(n ?? 0));
    expect(major! * 1e6 + minor! * 1e3 + (patch || 0), compose.services.nginx!.image).toBeGreaterThanOrEqual(1_027_003);
    // a proxy_pass naming a host directly (not an upstream) would be resolved once, at start
    const names = upstreams.map(([, name]) => name);
    for (const [, target] of conf.matchAll(/proxy_pass\s+http:\/\/([^/;\s]+)/g)) expect(names, `proxy_pass http://${target}`).toContain(target);
  });

  it('Prometheus scrapes the roles on METRICS_PORT; alert rules and the Grafana dashboard name only metrics that exist', () => {
    const prom = yamlOf('infra/prometheus/prometheus.yml') as { scrape_configs: Array<{ metrics_path: string; dns_sd_configs: Array<{ names: string[]; port: number }> }> };
    const [job] = prom.scrape_configs;
    expect(job!.metrics_path).toBe('/metrics');
    expect(String(job!.dns_sd_configs[0]!.port)).toBe(compose.services.api!.environment!.METRICS_PORT);
    expect(String(job!.dns_sd_configs[0]!.port)).toBe(configMap.METRICS_PORT);
    for (const name of job!.dns_sd_configs[0]!.names) expect(Object.keys(compose.services)).toContain(name);
    // every role's process is scraped: each compose service that runs roles is a target (migrate runs none)
    const targets = job!.dns_sd_configs.flatMap((c) => c.names);
    const roleServices = ours.filter(([, s]) => rolesOf(s.command ?? []).length > 0).map(([name]) => name);
    expect(roleServices.length).toBe(ROLE_NAMES.length);
    for (const service of roleServices) {
      expect(targets, `compose service ${service} is not scraped`).toContain(service);
      expect(compose.services[service]!.environment?.METRICS_PORT, `${service} serves /metrics on the scraped port`).toBe(String(job!.dns_sd_configs[0]!.port));
    }
    // on Kubernetes, every role's pods carry the scrape annotations on their metrics port
    for (const d of k8s.filter((doc) => doc.kind === 'Deployment')) {
      const annotations = (d.spec.template.metadata.annotations ?? {}) as Env;
      const metrics = d.spec.template.spec.containers[0].ports.find((p: { name: string }) => p.name === 'metrics');
      expect(annotations['prometheus.io/scrape'], d.metadata.name).toBe('true');
      expect(annotations['prometheus.io/port'], d.metadata.name).toBe(String(metrics.containerPort));
      expect(annotations['prometheus.io/path'], d.metadata.name).toBe('/metrics');
    }
    const rules = (yamlOf('infra/prometheus/alerts.yml') as { groups: Array<{ rules: Array<{ alert: string; expr: string }> }> }).groups.flatMap((g) => g.rules);
    expect(rules.map((r) => r.alert)).toEqual(expect.arrayContaining(['ProjectionLagging', 'ConsumerLagging', 'SagaFailures', 'HighErrorRate']));
    for (const rule of rules) expect(unknownMetrics(rule.expr), rule.alert).toEqual([]);
    const dashboard = JSON.parse(read('infra/grafana/dashboards/openclaw.json')) as { panels: Array<{ title: string; targets: Array<{ expr: string }> }> };
    for (const panel of dashboard.panels) for (const t of panel.targets) expect(unknownMetrics(t.expr), panel.title).toEqual([]);
    const provisioning = yamlOf('infra/grafana/provisioning/dashboards/openclaw.yml') as { providers: Array<{ options: { path: string } }> };
    expect(read('infra/docker-compose.yml')).toContain(`./grafana/dashboards:${provisioning.providers[0]!.options.path}`);
  });

  it('Kubernetes: a Deployment per role, probes on the paths and port the process serves, only variables the configuration accepts', () => {
    const deployments = k8s.filter((d) => d.kind === 'Deployment');
    const roles = deployments.map((d) => rolesOf(d.spec.template.spec.containers[0].args)).flat();
    expect(roles.sort()).toEqual([...ROLE_NAMES].sort());
    for (const key of Object.keys(configMap)) expect(ENV_VARS, key).toContain(key);
    expect(ENV_SCHEMA.safeParse(configMap).success).toBe(true);
    for (const d of deployments) {
      const [container] = d.spec.template.spec.containers;
      for (const e of container.env ?? []) expect(ENV_VARS, `${d.metadata.name}: ${e.name}`).toContain(e.name);
      expect(container.livenessProbe.httpGet.path).toBe('/healthz');
      expect(container.readinessProbe.httpGet.path).toBe('/readyz');
      const metrics = container.ports.find((p: { name: string }) => p.name === 'metrics');
      expect(String(metrics.containerPort)).toBe(configMap.METRICS_PORT);
      expect(d.spec.template.spec.securityContext.runAsNonRoot).toBe(true);
    }
    const api = deployments.find((d) => d.metadata.name === 'openclaw-api')!.spec.template.spec.containers[0];
    const port = api.env.find((e: { name: string }) => e.name === 'PORT').value;
    expect(String(api.ports.find((p: { name: string }) => p.name === 'http').containerPort)).toBe(port);
  });

  it('Dockerfile: multi-stage, runs as a user without privileges, its variables and entry point exist', () => {
    const dockerfile = read('infra/Dockerfile');
    expect(dockerfile.match(/^FROM /gm)!.length).toBeGreaterThanOrEqual(3);
    expect(dockerfile).toMatch(/^USER node$/m);
    const env = [...dockerfile.matchAll(/^\s*(?:ENV\s+)?([A-Z_]+)=\S+/gm)].map((m) => m[1]!).filter((n) => n !== 'NODE_ENV');
    for (const name of env) expect(ENV_VARS, name).toContain(name);
    expect(dockerfile).toContain('"runtime/cli.ts"');
    expect(existsSync(path.join(root, 'runtime/cli.ts'))).toBe(true);
    expect(dockerfile).toMatch(/EXPOSE 8080 9464/);
  });

  it('.dockerignore: the image (pushed to a registry) holds no secret, no local state and not the host node_modules; everything the build reads stays', () => {
    // Docker's rules: `**` any folders, `*` and `?` within one name, a folder's match covers what it holds, the last match wins, `!` keeps
    const rules = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'))
      .map((l) => {
        const keep = l.startsWith('!');
        const glob = path.posix.normalize(l.slice(keep ? 1 : 0).replace(/^\//, ''));
        const body = glob.split(/(\*\*\/|\/\*\*|\*\*|\*|\?)/).map((t) =>
          t === '**/' ? '(?:.*/)?' : t === '/**' ? '(?:/.*)?' : t === '**' ? '.*' : t === '*' ? '[^/]*' : t === '?' ? '[^/]' : t.replace(/[.+^${}()|[\]\\]/g, '\\$&'),
        );
        return { keep, pattern: new RegExp(`^${body.join('')}(?:/.*)?$`) };
      });
    const excluded = (file: string) => rules.reduce((out, rule) => (rule.pattern.test(file) ? !rule.keep : out), false);
    const secretsAndState = [
      'infra/.env',
      'infra/.env.production',
      '.env',
      'infra/nginx/certs/tls.key',
      'infra/nginx/certs/tls.crt',
      '.data/master.key',
      '.data/operator-key',
      'test/.data/x',
      '.git/config',
      '.git/objects/ab/cdef',
      'node_modules/pg/package.json',
      'infra/kafka/node_modules/x/index.js',
      '.tmp/vitest-report.json',
    ];
    for (const file of secretsAndState) expect(excluded(file), file).toBe(true);
    // the Dockerfile copies these, and its `tsc -p .` typechecks every tracked source the tsconfig includes
    const tracked = execFileSync('git', ['ls-files'], { cwd: root, encoding: 'utf8' }).split('\n').filter(Boolean);
    const include = (JSON.parse(read('tsconfig.json')) as { include: string[] }).include;
    const needed = tracked.filter((f) => ['package.json', 'package-lock.json', 'tsconfig.json'].includes(f) || include.some((d) => f.startsWith(`${d}/`) || (d === '*.ts' && /^[^/]+\.ts$/.test(f))));
    expect(needed).toContain('runtime/cli.ts');
    expect(needed.filter(excluded)).toEqual([]);
  });

  it('the image holds everything the CLI loads: no import reaches a folder the Dockerfile deletes, and no package outside dependencies', () => {
    const dockerfile = read('infra/Dockerfile');
    const deleted = /rm -rf ([^\n\\]+)/.exec(dockerfile)![1]!.trim().split(/\s+/);
    expect(deleted).toContain('test');
    const pkg = JSON.parse(read('package.json')) as { dependencies: Record<string, string> };
    const installed = new Set([...Object.keys(pkg.dependencies), ...[...dockerfile.matchAll(/npm install [^\n]*?\s((?:@[\w-]+\/)?[\w.-]+)@[\d.]+/g)].map((m) => m[1]!)]);
    const packageOf = (spec: string) => spec.split('/').slice(0, spec.startsWith('@') ? 2 : 1).join('/');
    // every module the CLI can load, following static and dynamic imports (type-only imports are erased)
    const seen = new Set<string>();
    const problems: string[] = [];
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const source = read(file);
      const specs = [...source.matchAll(/^\s*(?:import|export)\s+(?!type\b)[^'";]*?from\s+'([^']+)'|^\s*import\s+'([^']+)'|import\(\s*'([^']+)'\s*\)/gm)].map((m) => m[1] ?? m[2] ?? m[3]!);
      for (const spec of specs) {
        if (spec.startsWith('node:')) continue;
        if (!spec.startsWith('.')) {
          if (!installed.has(packageOf(spec))) problems.push(`${file} imports ${spec}, not among the dependencies the image keeps`);
          continue;
        }
        const target = path.normalize(path.join(path.dirname(file), spec));
        if (deleted.some((d) => target === d || target.startsWith(`${d}/`))) problems.push(`${file} imports ${target}, which the image deletes`);
        else if (!existsSync(path.join(root, target))) problems.push(`${file} imports ${target}, which does not exist`);
        else if (/\.(ts|mjs|js)$/.test(target)) visit(target);
      }
    };
    for (const entry of ['runtime/cli.ts', 'runtime/bin.ts', 'runtime/thread-boot.mjs']) visit(entry);
    expect(seen.has('runtime/dev.ts')).toBe(true);
    expect(problems).toEqual([]);
  });

  it('deploy.sh k8s: the last migration Job is deleted (its template is immutable), the new one completes before any role rolls out', () => {
    const { status, stderr, calls } = dryDeploy('k8s', SAMPLE_ENV);
    expect(status, stderr).toBe(0);
    // each kubectl call with the manifests piped into it
    const kubectl = calls.flatMap((c, i) => {
      if (!c.startsWith('kubectl ')) return [];
      const stdin = calls[i + 1]?.startsWith('  stdin: ') ? Buffer.from(calls[i + 1]!.slice(9), 'base64').toString('utf8') : '';
      return [{ call: c, manifests: parseAllDocuments(stdin).map((d) => d.toJS() as Record<string, any>).filter(Boolean) }]; // eslint-disable-line @typescript-eslint/no-explicit-any
    });
    const log = kubectl.map((k) => k.call).join('\n');
    const name = k8s.find((d) => d.kind === 'Job')!.metadata.name as string;
    const at = (test: (call: string) => boolean) => kubectl.findIndex((k) => test(k.call));
    const applied = (i: number) => (/ apply .*-f -/.test(kubectl[i]!.call) ? kubectl[i]!.manifests.filter((d) => selects(selectorOf(kubectl[i]!.call), d)) : []);
    const job = (d: Record<string, unknown>) => d.kind === 'Job' && (d.metadata as { name: string }).name === name;
    const deleted = at((c) => c.includes(`delete job ${name}`) && c.includes('--ignore-not-found'));
    const jobApplied = kubectl.findIndex((_, i) => applied(i).some(job));
    const waited = at((c) => c.includes(' wait ') && c.includes('--for=condition=complete') && c.includes(`job/${name}`));
    const rolesApplied = kubectl.map((_, i) => i).filter((i) => applied(i).some((d) => d.kind === 'Deployment'));
    expect(deleted, log).toBeGreaterThanOrEqual(0);
    expect(jobApplied, log).toBeGreaterThan(deleted);
    // the Job reads the ConfigMap: it is applied with the Job or before
    expect(kubectl.findIndex((_, i) => applied(i).some((d) => d.kind === 'ConfigMap'))).toBeLessThanOrEqual(jobApplied);
    expect(waited, log).toBeGreaterThan(jobApplied);
    expect(rolesApplied.length).toBeGreaterThan(0);
    for (const i of rolesApplied) expect(i, `${kubectl[i]!.call} comes before the migration completed`).toBeGreaterThan(waited);
    // every Deployment is applied, on the pushed image, and the rollout is awaited after that
    const deployments = rolesApplied.flatMap((i) => applied(i).filter((d) => d.kind === 'Deployment'));
    for (const d of deployments) expect(d.spec.template.spec.containers[0].image, d.metadata.name).toBe('registry.example/openclaw-service:sample');
    const rolled = new Set(deployments.map((d) => d.metadata.name));
    expect(rolled.size).toBe(k8s.filter((d) => d.kind === 'Deployment').length);
    expect(at((c) => c.includes('rollout status'))).toBeGreaterThan(Math.max(...rolesApplied));
  });

  it('deploy.sh k8s: the secret holds DATABASE_URL (EVENT_STORE=postgres) and values as compose reads them, without their quotes; an .env it cannot carry is refused', () => {
    expect(configMap.EVENT_STORE).toBe('postgres');
    const quoted = SAMPLE_ENV.map((l) => (l.startsWith('PUBLIC_URL=') ? 'PUBLIC_URL="https://openclaw.example.com"' : l.startsWith('JWT_SECRET=') ? `JWT_SECRET='${SAMPLE.JWT_SECRET}'` : l));
    const { status, stderr, calls } = dryDeploy('k8s', ['# secrets', ...quoted]);
    expect(status, stderr).toBe(0);
    const at = calls.findIndex((c) => c.includes('create secret generic'));
    expect(at).toBeGreaterThanOrEqual(0);
    const lines = calls.slice(at + 1);
    const end = lines.findIndex((l) => !l.startsWith('  env: '));
    const envLines = end === -1 ? lines : lines.slice(0, end);
    const secret = Object.fromEntries(envLines.map((l) => /^ {2}env: ([^=]+)=(.*)$/.exec(l)!.slice(1, 3) as [string, string]));
    expect(secret.PUBLIC_URL).toBe('https://openclaw.example.com');
    expect(secret.JWT_SECRET).toBe(SAMPLE.JWT_SECRET);
    expect(secret.DATABASE_URL).toMatch(/^postgres:\/\//);
    // the roles parse what the ConfigMap and the secret give them
    expect(ENV_SCHEMA.safeParse({ ...configMap, ...secret }).success).toBe(true);
    // refused before anything is built or applied, with the reason
    const refused = (lines: string[]) => {
      const run = dryDeploy('k8s', lines);
      expect(run.status, lines.join('\n')).not.toBe(0);
      expect(run.calls).toEqual([]);
      return run.stderr;
    };
    expect(refused(SAMPLE_ENV.filter((l) => !l.startsWith('DATABASE_URL=')))).toContain('DATABASE_URL');
    expect(refused([...SAMPLE_ENV, 'ORGO_API_KEY="unclosed'])).toContain('ORGO_API_KEY');
  });

  it('CI runs .ci/run with a browser the runner has (not root: nothing can be apt-installed); deploy.sh is executable and valid bash', () => {
    const workflow = yamlOf('.github/workflows/ci.yml') as { jobs: Record<string, { env?: Env; steps: Array<{ run?: string; env?: Env }> }> };
    expect(Object.values(workflow.jobs).flatMap((j) => j.steps.map((s) => s.run))).toContain('.ci/run');
    const [job, step] = Object.values(workflow.jobs).flatMap((j) => j.steps.filter((s) => s.run === '.ci/run').map((s) => [j, s] as const))[0]!;
    const browser = { ...job.env, ...step.env }.CHROMIUM_PATH;
    expect(browser, 'CHROMIUM_PATH for the dashboard test').toMatch(/^\/usr\/bin\/(google-chrome|chromium)/);
    // the runner's choice reaches the test and the runner script (which would otherwise try apt-get)
    for (const file of ['test/ws/dashboard.browser.test.ts', 'infra/test-run.ts']) expect(read(file), file).toMatch(/process\.env\.CHROMIUM_PATH/);
    accessSync(path.join(root, '.ci/run'), constants.X_OK);
    accessSync(path.join(root, 'infra/deploy.sh'), constants.X_OK);
    execFileSync('bash', ['-n', path.join(root, 'infra/deploy.sh')]);
  });
});
