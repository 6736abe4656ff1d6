/**
 * docker-compose.yml, infra/prometheus/prometheus.yml and the topic plan of the init service.
 * The compose file is normalised by docker-compose itself (`config`: anchors, merge keys and
 * ${VAR:-default} resolved) and its output parsed with the `yaml` package; compose v2 prints
 * JSON directly (`config --format json`).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadCatalogue, type Catalogue } from '#platform/serde';
import { REPO_ROOT } from '../support/stack.ts';
import { createTopics, planTopicCreation, type TopicAdmin } from '#platform/kafka';

type YamlValue = null | boolean | number | string | YamlValue[] | YamlMap;
interface YamlMap {
  [key: string]: YamlValue;
}

function parseYaml(source: string): YamlValue {
  return parse(source) as YamlValue;
}

// ---------------------------------------------------------------------------------------------
// The model of the compose file and the checks on it (pure, so they are tested on synthetic
// models too: with no application service yet, the real file would not exercise them).
// ---------------------------------------------------------------------------------------------

function isMap(value: YamlValue | undefined): value is YamlMap {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function mapAt(value: YamlValue | undefined): YamlMap {
  return isMap(value) ? value : {};
}

function listAt(value: YamlValue | undefined): YamlValue[] {
  return Array.isArray(value) ? value : [];
}

/** A command as one string, whether the file wrote it as a list or a string. */
function commandText(service: YamlMap): string {
  const command = service.command;
  if (Array.isArray(command)) return command.map(String).join(' ');
  return typeof command === 'string' ? command : '';
}

/** Environment as a map, from either compose form (map, or list of NAME=value). */
function environmentOf(service: YamlMap): Record<string, string> {
  const environment = service.environment;
  const result: Record<string, string> = {};
  if (Array.isArray(environment)) {
    for (const entry of environment) {
      const [name, ...value] = String(entry).split('=');
      if (name !== undefined) result[name] = value.join('=');
    }
  } else if (isMap(environment)) {
    for (const [name, value] of Object.entries(environment)) {
      result[name] = value === null ? '' : String(value);
    }
  }
  return result;
}

/** "source:target" of a volume in short (1.x) or long (2.x JSON) syntax. */
function mountText(volume: YamlValue): string {
  if (!isMap(volume)) return String(volume);
  return `${String(volume.source)}:${String(volume.target)}`;
}

/** Names of the compose secrets a service mounts, from either form (name or {source}). */
function secretsOf(service: YamlMap): string[] {
  return listAt(service.secrets)
    .map((entry) => (isMap(entry) ? String(entry.source) : String(entry)))
    .sort();
}

function dependsOnCondition(service: YamlMap, dependency: string): string | undefined {
  const dependsOn = service.depends_on;
  if (Array.isArray(dependsOn))
    return dependsOn.includes(dependency) ? 'service_started' : undefined;
  const entry = mapAt(dependsOn)[dependency];
  if (entry === undefined) return undefined;
  const condition = mapAt(entry).condition;
  return typeof condition === 'string' ? condition : 'service_started';
}

function builtFromDockerfile(service: YamlMap): boolean {
  const build = service.build;
  if (typeof build === 'string') return true;
  if (!isMap(build)) return false;
  const dockerfile = build.dockerfile;
  return (
    dockerfile === undefined || dockerfile === null || String(dockerfile).endsWith('Dockerfile')
  );
}

/** Built from the Dockerfile but run once at start-up, not a services/<name>/main.ts. */
const ONE_SHOT_JOBS = ['init', 'kafka-setup'];

const APP_VARIABLES = [
  'KAFKA_BROKERS',
  'SCHEMA_REGISTRY_URL',
  'KAFKA_USERNAME',
  'KAFKA_PASSWORD_FILE',
  'LOG_LEVEL',
  'METRICS_PORT',
] as const;

/** Problems of the compose model for the given application services ([] when all is well). */
function composeProblems(compose: YamlValue, appServices: readonly string[]): string[] {
  const services = mapAt(mapAt(compose).services);
  const problems: string[] = [];
  for (const name of appServices) {
    const service = services[name];
    const entry = `services/${name}/main.ts`;
    if (!isMap(service)) {
      problems.push(`${entry} has no compose service "${name}"`);
      continue;
    }
    // The compiled entry with plain node: no TypeScript loader in production.
    const compiled = `services/${name}/main.js`;
    if (commandText(service) !== `node ${compiled}`) {
      problems.push(`service "${name}" does not run "node ${compiled}"`);
    }
    if (!builtFromDockerfile(service))
      problems.push(`service "${name}" is not built from Dockerfile`);
    const environment = environmentOf(service);
    for (const variable of APP_VARIABLES) {
      if (!(variable in environment)) problems.push(`service "${name}" lacks ${variable}`);
    }
    if (dependsOnCondition(service, 'init') !== 'service_completed_successfully') {
      problems.push(`service "${name}" does not wait for init to complete successfully`);
    }
  }
  // The other direction: a built service that is not a one-shot job must belong to a
  // services/ folder.
  for (const [name, service] of Object.entries(services)) {
    if (ONE_SHOT_JOBS.includes(name) || !isMap(service) || !builtFromDockerfile(service)) continue;
    if (!appServices.includes(name)) {
      problems.push(`compose service "${name}" has no services/${name}/main.ts`);
    }
  }
  return problems;
}

/** Problems of the Prometheus config: every application service scraped on its METRICS_PORT. */
function prometheusProblems(
  prometheus: YamlValue,
  compose: YamlValue,
  appServices: readonly string[],
): string[] {
  const services = mapAt(mapAt(compose).services);
  const jobs = listAt(mapAt(prometheus).scrape_configs).map(mapAt);
  const problems: string[] = [];
  for (const name of appServices) {
    const port = environmentOf(mapAt(services[name])).METRICS_PORT ?? '';
    const scraped = jobs.some((job) => {
      const path = job.metrics_path ?? '/metrics';
      if (path !== '/metrics') return false;
      const byDns = listAt(job.dns_sd_configs)
        .map(mapAt)
        .some((sd) => listAt(sd.names).includes(name) && String(sd.port) === port);
      const byTarget = listAt(job.static_configs)
        .map(mapAt)
        .some((sc) => listAt(sc.targets).includes(`${name}:${port}`));
      return byDns || byTarget;
    });
    if (!scraped) problems.push(`prometheus does not scrape ${name}:${port || '?'}/metrics`);
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// docker-compose itself.
// ---------------------------------------------------------------------------------------------

interface ComposeRun {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

const COMPOSE_FILE = join(REPO_ROOT, 'docker-compose.yml');

/** `docker-compose` (1.x, or the 2.x standalone binary) or else `docker compose` (plugin). */
let composeFound: { command: string; prefix: string[]; major: number } | undefined;

function findCompose(): { command: string; prefix: string[]; major: number } {
  if (composeFound !== undefined) return composeFound;
  const candidates: [string, string[]][] = [
    ['docker-compose', []],
    ['docker', ['compose']],
  ];
  for (const [command, prefix] of candidates) {
    const result = spawnSync(command, [...prefix, 'version', '--short'], { encoding: 'utf8' });
    if (result.error === undefined && result.status === 0) {
      const major = Number.parseInt(result.stdout.trim().replace(/^v/, ''), 10);
      composeFound = { command, prefix, major: Number.isNaN(major) ? 1 : major };
      return composeFound;
    }
  }
  throw new Error(
    'docker-compose is required by this test and was not found: install it (Debian: ' +
      'apt-get install docker-compose) or the docker compose plugin. No docker engine is needed.',
  );
}

/**
 * The passwords compose requires (no defaults; `make compose-secrets` writes them into .env),
 * set here to placeholders so that `config` can normalise the file.
 */
const REQUIRED_PASSWORDS = {
  CLICKHOUSE_PASSWORD: 'placeholder',
  CLICKHOUSE_ANALYST_PASSWORD: 'placeholder',
  CLICKHOUSE_GRAFANA_PASSWORD: 'placeholder',
  CLICKHOUSE_LOGGER_PASSWORD: 'placeholder',
  CLICKHOUSE_DRIFT_PASSWORD: 'placeholder',
  CLICKHOUSE_RETRAINER_PASSWORD: 'placeholder',
  CLICKHOUSE_PROMOTER_PASSWORD: 'placeholder',
  CLICKHOUSE_CONSOLE_PASSWORD: 'placeholder',
  GRAFANA_ADMIN_PASSWORD: 'placeholder',
};

const EMPTY_ENV_FILE = join(mkdtempSync(join(tmpdir(), 'compose-test-')), 'empty.env');
writeFileSync(EMPTY_ENV_FILE, '');

function runCompose(...args: string[]): ComposeRun {
  return runComposeWith(REQUIRED_PASSWORDS, ...args);
}

function runComposeWith(passwords: Record<string, string>, ...args: string[]): ComposeRun {
  const compose = findCompose();
  const env = { ...process.env };
  for (const name of Object.keys(REQUIRED_PASSWORDS)) delete env[name];
  const result = spawnSync(
    compose.command,
    // An empty --env-file: a developer's .env must not hide a missing password here.
    [
      ...compose.prefix,
      '--project-directory',
      REPO_ROOT,
      '--env-file',
      EMPTY_ENV_FILE,
      '-f',
      COMPOSE_FILE,
      ...args,
    ],
    { cwd: REPO_ROOT, encoding: 'utf8', env: { ...env, ...passwords } },
  );
  if (result.error !== undefined) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function normalisedCompose(): YamlValue {
  const json = findCompose().major >= 2;
  const run = json ? runCompose('config', '--format', 'json') : runCompose('config');
  if (run.status !== 0) throw new Error(`docker-compose config failed:\n${run.stderr}`);
  return json ? (JSON.parse(run.stdout) as YamlValue) : parseYaml(run.stdout);
}

function applicationServices(): string[] {
  return readdirSync(join(REPO_ROOT, 'services'), { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && entry.name !== 'shared')
    .filter((entry) => existsSync(join(REPO_ROOT, 'services', entry.name, 'main.ts')))
    .map((entry) => entry.name)
    .sort();
}

// ---------------------------------------------------------------------------------------------

describe('planTopicCreation', () => {
  const catalogue = loadCatalogue();
  const names = catalogue.topics.map((topic) => topic.name);

  it('plans every catalogue topic on an empty cluster, with its partitions and configs', () => {
    const plan = planTopicCreation(catalogue, [], 3);
    expect(plan.create.map((topic) => topic.name)).toEqual(names);
    expect(plan.existing).toEqual([]);
    expect(plan.warnings).toEqual([]);
    for (const spec of catalogue.topics) {
      expect(plan.create.find((topic) => topic.name === spec.name)).toEqual({
        name: spec.name,
        partitions: spec.partitions,
        replicationFactor: spec.replicationFactor,
        configs: {
          'retention.ms': String(spec.retentionMs),
          'cleanup.policy': spec.cleanupPolicy,
          'min.insync.replicas': String(spec.minInsyncReplicas),
        },
      });
    }
  });

  it('leaves existing topics alone and ignores topics outside the catalogue', () => {
    const plan = planTopicCreation(
      catalogue,
      ['reviews', 'someone-elses-topic', '__consumer_offsets'],
      3,
    );
    expect(plan.existing).toEqual(['reviews']);
    expect(plan.create.map((topic) => topic.name)).toEqual(
      names.filter((name) => name !== 'reviews'),
    );
  });

  it('clamps the replication factor to the broker count, with a warning per topic', () => {
    const [template] = catalogue.topics;
    if (template === undefined) throw new Error('the catalogue is empty');
    const small: Catalogue = {
      topics: [
        { ...template, name: 'three', replicationFactor: 3, minInsyncReplicas: 2 },
        { ...template, name: 'one', replicationFactor: 1, minInsyncReplicas: 1 },
      ],
      principals: [],
    };
    const plan = planTopicCreation(small, [], 1);
    expect(plan.create.map((topic) => [topic.name, topic.replicationFactor])).toEqual([
      ['three', 1],
      ['one', 1],
    ]);
    expect(plan.create.map((topic) => topic.configs['min.insync.replicas'])).toEqual(['1', '1']);
    expect(plan.warnings).toEqual([
      'three: replication factor 3 reduced to 1, min.insync.replicas 2 to 1 (the cluster has 1 broker)',
    ]);
    const two = planTopicCreation(small, [], 2).create[0];
    expect(two?.replicationFactor).toBe(2);
    expect(two?.configs['min.insync.replicas']).toBe('1');
  });

  it('keeps retention -1 (forever) and the compact policy as Kafka configs', () => {
    const deployments = planTopicCreation(catalogue, [], 1).create.find(
      (topic) => topic.name === 'models.deployments',
    );
    expect(deployments?.configs).toEqual({
      'retention.ms': '-1',
      'cleanup.policy': 'compact',
      'min.insync.replicas': '1',
    });
  });

  it('plans nothing when everything exists', () => {
    const plan = planTopicCreation(catalogue, names, 1);
    expect(plan.create).toEqual([]);
    expect(plan.existing).toEqual(names);
  });

  it('creates the planned topics through the admin client (createTopics)', async () => {
    const requests: unknown[] = [];
    const admin: TopicAdmin = {
      describeCluster: async () => ({
        brokers: [{ nodeId: 1, host: 'kafka', port: 9092 }],
        controller: 1,
        clusterId: 'test',
      }),
      listTopics: async () => ['reviews', '__consumer_offsets'],
      createTopics: async (request) => {
        requests.push(request);
        return true;
      },
    };
    const printed: string[] = [];
    const plan = await createTopics(admin, catalogue, (line) => printed.push(line));
    expect(plan.existing).toEqual(['reviews']);
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({
      waitForLeaders: true,
      topics: expect.arrayContaining([
        {
          topic: 'models.deployments',
          numPartitions: 1,
          replicationFactor: 1,
          configEntries: [
            { name: 'retention.ms', value: '-1' },
            { name: 'cleanup.policy', value: 'compact' },
            { name: 'min.insync.replicas', value: '1' },
          ],
        },
      ]),
    });
    expect(printed).toContain('exists   reviews (left unchanged)');
    expect(printed.at(-1)).toBe(
      `${names.length - 1} topic(s) created, 1 already present (cluster of 1 broker(s))`,
    );
    expect(printed.filter((line) => line.startsWith('warning:'))).toHaveLength(names.length - 1);
  });

  it('refuses a broker count below one', () => {
    expect(() => planTopicCreation(catalogue, [], 0)).toThrow(/positive integer/);
  });
});

describe('compose checks', () => {
  const appService = (name: string): YamlMap => ({
    build: { context: '.', dockerfile: 'Dockerfile' },
    command: ['node', `services/${name}/main.js`],
    environment: Object.fromEntries(APP_VARIABLES.map((variable) => [variable, '9464'])),
    depends_on: { init: { condition: 'service_completed_successfully' } },
  });
  const compose: YamlMap = {
    services: {
      init: {
        build: { context: '.' },
        command: 'sh -c "node scripts/create-topics.js"',
      },
      inference: appService('inference'),
    },
  };

  it('accepts a complete service and finds each missing piece', () => {
    expect(composeProblems(compose, ['inference'])).toEqual([]);
    expect(composeProblems(compose, ['inference', 'gateway'])).toEqual([
      'services/gateway/main.ts has no compose service "gateway"',
    ]);
    expect(composeProblems(compose, [])).toEqual([
      'compose service "inference" has no services/inference/main.ts',
    ]);
    const broken: YamlMap = {
      services: {
        inference: { ...appService('inference'), command: 'node services/inference/main.ts' },
      },
    };
    expect(composeProblems(broken, ['inference'])).toEqual([
      'service "inference" does not run "node services/inference/main.js"',
    ]);
  });

  it('requires a scrape of every service on its METRICS_PORT', () => {
    const byDns = parseYaml(
      'scrape_configs:\n  - job_name: s\n    dns_sd_configs:\n      - names: [inference]\n        port: 9464',
    );
    const byTarget = parseYaml(
      'scrape_configs:\n  - job_name: s\n    static_configs:\n      - targets: ["inference:9464"]',
    );
    const wrongPort = parseYaml(
      'scrape_configs:\n  - job_name: s\n    static_configs:\n      - targets: ["inference:9000"]',
    );
    expect(prometheusProblems(byDns, compose, ['inference'])).toEqual([]);
    expect(prometheusProblems(byTarget, compose, ['inference'])).toEqual([]);
    expect(prometheusProblems(wrongPort, compose, ['inference'])).toEqual([
      'prometheus does not scrape inference:9464/metrics',
    ]);
  });
});

describe('docker-compose.yml', () => {
  let compose: YamlValue = null;
  let services: YamlMap = {};
  let apps: string[] = [];

  beforeAll(() => {
    // Throws the "docker-compose is required" message when it is missing: every test fails.
    compose = normalisedCompose();
    services = mapAt(mapAt(compose).services);
    apps = applicationServices();
  });

  it('is valid (docker-compose config -q)', () => {
    const run = runCompose('config', '-q');
    expect(run.stderr).not.toMatch(/error/i);
    expect(run.status, run.stderr).toBe(0);
  });

  it('creates every catalogue topic and its ACLs (kafka-setup), then the schemas (init)', () => {
    const setup = mapAt(services['kafka-setup']);
    expect(builtFromDockerfile(setup)).toBe(true);
    // Topics first; ACLs only when that succeeded (&&); as the admin principal.
    expect(commandText(setup)).toMatch(
      /node scripts\/create-topics\.js && node scripts\/kafka-access\.js acls/,
    );
    expect(environmentOf(setup).KAFKA_BROKERS).toBe('kafka:9092,kafka-2:9092,kafka-3:9092');
    expect(environmentOf(setup).KAFKA_EXPECTED_BROKERS).toBe('3');
    expect(environmentOf(setup).KAFKA_USERNAME).toBe('admin');
    expect(dependsOnCondition(setup, 'kafka-users')).toBe('service_completed_successfully');
    expect(dependsOnCondition(mapAt(services['schema-registry']), 'kafka-setup')).toBe(
      'service_completed_successfully',
    );

    const init = mapAt(services.init);
    expect(builtFromDockerfile(init)).toBe(true);
    expect(commandText(init)).toMatch(/node scripts\/register-schemas\.js/);
    expect(environmentOf(init).SCHEMA_REGISTRY_URL).toBe('http://schema-registry:8081');
    expect(dependsOnCondition(init, 'schema-registry')).toBe('service_healthy');

    // What create-topics.ts does on the fresh three-node cluster of the compose stack.
    const catalogue = loadCatalogue();
    const plan = planTopicCreation(catalogue, [], 3);
    expect(plan.create.map((topic) => topic.name).sort()).toEqual(
      catalogue.topics.map((topic) => topic.name).sort(),
    );
    expect(plan.warnings).toEqual([]);
  });

  it('gives each application service its own Kafka principal and only its own password', () => {
    for (const app of apps) {
      const service = mapAt(services[app]);
      expect(environmentOf(service).KAFKA_USERNAME, app).toBe(app);
      expect(environmentOf(service).KAFKA_PASSWORD_FILE, app).toBe(`/run/secrets/kafka-${app}`);
      // The gateway also runs the web console, under the console's own principal.
      const extra = app === 'gateway' ? ['kafka-console'] : [];
      expect(secretsOf(service).sort(), app).toEqual([`kafka-${app}`, ...extra].sort());
      if (app === 'gateway') {
        expect(environmentOf(service).CONSOLE_KAFKA_PASSWORD_FILE).toBe(
          '/run/secrets/kafka-console',
        );
      }
    }
  });

  it('creates a SCRAM user for admin and every principal of the catalogue, from its secret', () => {
    const users = mapAt(services['kafka-users']);
    const principals = (environmentOf(users).KAFKA_PRINCIPALS ?? '').split(/\s+/).sort();
    expect(principals).toEqual(
      ['admin', ...loadCatalogue().principals.map((principal) => principal.name)].sort(),
    );
    const secrets = secretsOf(users);
    for (const principal of principals) expect(secrets).toContain(`kafka-${principal}`);
    expect(commandText(users)).toContain('SCRAM-SHA-512=[iterations=8192,password=');
    for (const secret of [...secrets]) {
      expect(String(mapAt(mapAt(mapAt(compose).secrets)[secret]).file)).toMatch(
        new RegExp(`var/compose-secrets/kafka/${secret.slice('kafka-'.length)}\\.password$`),
      );
    }
  });

  it('has no anonymous Kafka listener and no default password', () => {
    for (const name of ['kafka', 'kafka-2', 'kafka-3']) {
      const environment = environmentOf(mapAt(services[name]));
      for (const entry of environment.KAFKA_LISTENER_SECURITY_PROTOCOL_MAP!.split(',')) {
        expect(entry, name).toMatch(/:SASL_(PLAINTEXT|SSL)$/);
      }
      expect(environment.KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND).toBe('false');
      expect(environment.KAFKA_AUTHORIZER_CLASS_NAME).toContain('StandardAuthorizer');
    }
    // Without the passwords (make compose-secrets), compose refuses to start and says why.
    const run = runComposeWith({}, 'config', '-q');
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain('run make compose-secrets');
  });

  it('gives each ClickHouse service its own user with grants, verifying migrations only', () => {
    const users = readFileSync(
      join(REPO_ROOT, 'infra/clickhouse/compose/users.d/sentiment-users.xml'),
      'utf8',
    );
    const clickhouseEnvironment = environmentOf(mapAt(services.clickhouse));
    // The ClickHouse user of each application service; the gateway's is its console's.
    const userOf: Record<string, string> = {
      logger: 'logger',
      drift: 'drift',
      retrainer: 'retrainer',
      promoter: 'promoter',
      gateway: 'console',
    };
    for (const app of apps) {
      const environment = environmentOf(mapAt(services[app]));
      const user = userOf[app];
      if (user === undefined) {
        // inference never touches ClickHouse: no address, no credentials.
        expect(
          Object.keys(environment).filter((name) => name.startsWith('CLICKHOUSE_')),
          app,
        ).toEqual([]);
        continue;
      }
      expect(environment.CLICKHOUSE_USER, app).toBe(user);
      expect(environment.CLICKHOUSE_MIGRATIONS, app).toBe('verify');
      expect(environment.CLICKHOUSE_DATABASE, app).toBe('sentiment');
      const block = new RegExp(`<${user}>([\\s\\S]*?)</${user}>`).exec(users)?.[1] ?? '';
      expect(block, app).toContain(`from_env="SENTIMENT_${user.toUpperCase()}_PASSWORD"`);
      expect(clickhouseEnvironment[`SENTIMENT_${user.toUpperCase()}_PASSWORD`], app).toBe(
        'placeholder',
      );
      const grants = [...block.matchAll(/<query>([^<]+)<\/query>/g)].map((match) => match[1]!);
      // Services that verify migrations at start read schema_migrations; the console reads
      // only what it shows.
      if (user !== 'console') {
        expect(grants, app).toContain('GRANT SELECT ON sentiment.schema_migrations');
      }
      for (const grant of grants)
        expect(grant, app).toMatch(/^GRANT (SELECT|INSERT)(, INSERT)? ON sentiment\.[a-z_]+$/);
    }
    // The logger inserts into predictions and nothing else.
    expect(/<logger>[\s\S]*?<\/logger>/.exec(users)?.[0]).toContain(
      '<query>GRANT INSERT ON sentiment.predictions</query>',
    );
    // The init applies the migrations as the owner.
    expect(environmentOf(mapAt(services.init)).CLICKHOUSE_MIGRATIONS).toBe('apply');
  });

  it('has a service for every services/<name>/main.ts that runs it (and no other)', () => {
    expect(composeProblems(compose, apps)).toEqual([]);
  });

  it('scrapes every application service with Prometheus', () => {
    const prometheus = parseYaml(
      readFileSync(join(REPO_ROOT, 'infra/prometheus/prometheus.yml'), 'utf8'),
    );
    expect(listAt(mapAt(prometheus).scrape_configs).length).toBeGreaterThan(0);
    expect(prometheusProblems(prometheus, compose, apps)).toEqual([]);
  });

  it('runs three KRaft nodes of the Kafka version the local stack and the tests run', () => {
    const pinned = /<kafka\.version>([^<]+)<\/kafka\.version>/.exec(
      readFileSync(join(REPO_ROOT, 'infra/kafka/pom.xml'), 'utf8'),
    )?.[1];
    expect(pinned).toMatch(/^\d+\.\d+\.\d+$/);
    const nodes = ['kafka', 'kafka-2', 'kafka-3'].map((name) => mapAt(services[name]));
    for (const [index, node] of nodes.entries()) {
      expect(node.image).toBe(`apache/kafka:${pinned}`);
      const environment = environmentOf(node);
      expect(environment.KAFKA_NODE_ID).toBe(String(index + 1));
      expect(environment.KAFKA_CONTROLLER_QUORUM_VOTERS).toBe(
        '1@kafka:9093,2@kafka-2:9093,3@kafka-3:9093',
      );
      expect(environment.KAFKA_MIN_INSYNC_REPLICAS).toBe('2');
      expect(environment.KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR).toBe('3');
    }
    // Each node keeps its data in a volume of its own.
    expect(new Set(nodes.map((node) => mountText(listAt(node.volumes)[0]!))).size).toBe(3);
  });

  it('runs the infrastructure with healthchecks the services wait for', () => {
    for (const name of ['kafka', 'schema-registry', 'clickhouse', 'prometheus', 'grafana']) {
      expect(mapAt(services[name]).healthcheck, name).toBeDefined();
    }
    expect(
      environmentOf(mapAt(services['schema-registry'])).SCHEMA_REGISTRY_SCHEMA_COMPATIBILITY_LEVEL,
    ).toBe('backward');
    expect(environmentOf(mapAt(services.kafka)).KAFKA_PROCESS_ROLES).toBe('broker,controller');
    expect(environmentOf(mapAt(services.grafana)).GF_INSTALL_PLUGINS).toContain(
      'grafana-clickhouse-datasource',
    );
    const mounts = listAt(mapAt(services.grafana).volumes).map(mountText);
    expect(mounts.some((mount) => mount.includes('/dashboards:'))).toBe(true);
    expect(mounts.some((mount) => mount.includes('infra/grafana/provisioning:'))).toBe(true);
  });
});
