/**
 * docker-compose.yml, infra/prometheus/prometheus.yml and the topic plan of the init service.
 * There is no YAML library in the project, so the compose file is normalised by docker-compose
 * itself (`config`: anchors, merge keys and ${VAR:-default} resolved) and its canonical output
 * is read by the small block-YAML reader below, which also reads prometheus.yml (written in
 * the same plain style). Compose v2 prints JSON directly (`config --format json`).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, loadCatalogue, type Catalogue } from '#shared/serde';
import { createTopics, planTopicCreation, type TopicAdmin } from '../../scripts/create-topics.ts';

// ---------------------------------------------------------------------------------------------
// A reader for the block-style YAML subset that PyYAML's safe_dump (docker-compose 1.x
// `config`) and hand-written configuration files use: block mappings and sequences, plain,
// single- and double-quoted scalars (also folded over several lines), `[]`/`{}` and one-line
// flow sequences of scalars, comments. Anything else (anchors, tags, block scalars) is
// refused with its line number, so a surprise fails loudly instead of being misread.
// ---------------------------------------------------------------------------------------------

type YamlValue = null | boolean | number | string | YamlValue[] | YamlMap;
interface YamlMap {
  [key: string]: YamlValue;
}

interface Line {
  readonly number: number;
  readonly indent: number;
  /** Without indentation, trailing spaces and comments; '' for blank and comment lines. */
  readonly text: string;
}

function stripComment(raw: string): string {
  let quote: string | undefined;
  for (let i = 0; i < raw.length; i++) {
    const char = raw[i];
    if (quote !== undefined) {
      if (char === '\\' && quote === '"') i++;
      else if (char === quote) quote = undefined;
    } else if (char === '"' || char === "'") {
      // A quote opens a scalar only at its start, not inside a plain word like it's.
      if (i === 0 || /[\s:[{,-]/.test(raw[i - 1] ?? '')) quote = char;
    } else if (char === '#' && (i === 0 || /\s/.test(raw[i - 1] ?? ''))) {
      return raw.slice(0, i);
    }
  }
  return raw;
}

function toLines(source: string): Line[] {
  return source.split(/\r?\n/).map((raw, index) => {
    const text = stripComment(raw).trimEnd();
    const content = text.trimStart();
    if (raw.trimStart().startsWith('\t')) throw new Error(`line ${index + 1}: tab indentation`);
    return { number: index + 1, indent: text.length - content.length, text: content };
  });
}

function isSequenceItem(text: string): boolean {
  return text === '-' || text.startsWith('- ');
}

/** Index just past a quoted scalar that starts at 0, or -1 when it does not end on the line. */
function quotedEnd(text: string): number {
  const quote = text[0];
  for (let i = 1; i < text.length; i++) {
    if (quote === '"' && text[i] === '\\') i++;
    else if (text[i] === quote) {
      if (quote === "'" && text[i + 1] === "'") i++;
      else return i + 1;
    }
  }
  return -1;
}

/** `key: rest` or `key:` as [key, rest]; undefined when the text is not a mapping entry. */
function splitKey(text: string): [string, string] | undefined {
  if (text.startsWith('"') || text.startsWith("'")) {
    const end = quotedEnd(text);
    if (end < 0) return undefined;
    const after = text.slice(end);
    const match = /^\s*:(?:\s+(.*)|$)/.exec(after);
    if (match === null) return undefined;
    const key = scalarFromParts([text.slice(0, end)]);
    return [String(key), match[1] ?? ''];
  }
  if (/^[[{&*!|>%@`]/.test(text)) return undefined;
  const match = /^(.*?):(?:\s+(.*)|$)/.exec(text);
  if (match === null || match[1] === undefined || match[1] === '') return undefined;
  return [match[1].trimEnd(), match[2] ?? ''];
}

function unescapeDoubleQuoted(body: string, at: number): string {
  const simple: Record<string, string> = {
    '0': '\0',
    a: '\x07',
    b: '\b',
    t: '\t',
    '\t': '\t',
    n: '\n',
    v: '\v',
    f: '\f',
    r: '\r',
    e: '\x1b',
    ' ': ' ',
    '"': '"',
    '/': '/',
    '\\': '\\',
    N: '\x85',
    _: '\xa0',
    L: '\u2028',
    P: '\u2029',
  };
  return body.replace(
    /\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)/g,
    (_, code: string) => {
      if (code.length > 1) return String.fromCodePoint(Number.parseInt(code.slice(1), 16));
      const value = simple[code];
      if (value === undefined) throw new Error(`line ${at}: unknown escape \\${code}`);
      return value;
    },
  );
}

/** YAML line folding: a single line break is a space, each empty line a newline. */
function fold(parts: readonly string[], doubleQuoted: boolean): string {
  let result = parts[0] ?? '';
  let newlines = 0;
  for (const part of parts.slice(1)) {
    if (part === '') {
      newlines++;
      continue;
    }
    if (newlines > 0) result += '\n'.repeat(newlines);
    else if (doubleQuoted && /(^|[^\\])(\\\\)*\\$/.test(result)) result = result.slice(0, -1);
    else result += ' ';
    result += part;
    newlines = 0;
  }
  return result;
}

function resolvePlain(text: string): YamlValue {
  if (text === '' || text === '~' || /^(null|Null|NULL)$/.test(text)) return null;
  if (/^(true|True|TRUE)$/.test(text)) return true;
  if (/^(false|False|FALSE)$/.test(text)) return false;
  if (/^[-+]?\d+$/.test(text)) return Number(text);
  if (/^[-+]?(\d+\.\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) return Number(text);
  return text;
}

function splitFlow(body: string): string[] {
  const items: string[] = [];
  let start = 0;
  let quote: string | undefined;
  for (let i = 0; i < body.length; i++) {
    const char = body[i];
    if (quote !== undefined) {
      if (char === quote) quote = undefined;
    } else if (char === '"' || char === "'") quote = char;
    else if (char === '[' || char === '{') throw new Error('nested flow collections');
    else if (char === ',') {
      items.push(body.slice(start, i).trim());
      start = i + 1;
    }
  }
  items.push(body.slice(start).trim());
  return items.filter((item, index) => item !== '' || index < items.length - 1);
}

/** A scalar written over `parts` (its first line's text, then continuation lines). */
function scalarFromParts(parts: readonly string[], at = 0): YamlValue {
  const first = parts[0] ?? '';
  if (first.startsWith('"')) {
    const text = fold(parts, true);
    if (text.length < 2 || quotedEnd(text) !== text.length) {
      throw new Error(`line ${at}: unterminated or malformed double-quoted scalar`);
    }
    return unescapeDoubleQuoted(text.slice(1, -1), at);
  }
  if (first.startsWith("'")) {
    const text = fold(parts, false);
    if (text.length < 2 || quotedEnd(text) !== text.length) {
      throw new Error(`line ${at}: unterminated or malformed single-quoted scalar`);
    }
    return text.slice(1, -1).replace(/''/g, "'");
  }
  if (first.startsWith('[') || first.startsWith('{')) {
    const closing = first.startsWith('[') ? ']' : '}';
    if (parts.length > 1 || !first.endsWith(closing)) {
      throw new Error(`line ${at}: multi-line flow collections are not supported`);
    }
    const body = first.slice(1, -1).trim();
    if (closing === '}') {
      if (body !== '') throw new Error(`line ${at}: non-empty flow mappings are not supported`);
      return {};
    }
    return body === '' ? [] : splitFlow(body).map((item) => scalarFromParts([item], at));
  }
  if (/^[&*!|>%@`]/.test(first)) {
    throw new Error(`line ${at}: anchors, aliases, tags and block scalars are not supported`);
  }
  return resolvePlain(fold(parts, false));
}

class BlockYamlReader {
  private pos = 0;
  private readonly lines: Line[];

  constructor(source: string) {
    this.lines = toLines(source).filter((line) => line.text !== '---' || line.indent !== 0);
  }

  read(): YamlValue {
    const first = this.nextContent();
    if (first === undefined) return null;
    const value = this.block(first.indent);
    const rest = this.nextContent();
    if (rest !== undefined) throw new Error(`line ${rest.number}: unexpected indentation`);
    return value;
  }

  private nextContent(): Line | undefined {
    while (this.pos < this.lines.length && this.lines[this.pos]?.text === '') this.pos++;
    return this.lines[this.pos];
  }

  private block(indent: number): YamlValue {
    const line = this.nextContent();
    if (line === undefined) return null;
    if (isSequenceItem(line.text)) return this.sequence(line.indent);
    if (splitKey(line.text) !== undefined) return this.mapping(line.indent);
    this.pos++;
    return this.scalar(line, line.text, indent - 1);
  }

  private mapping(indent: number): YamlMap {
    const map: YamlMap = {};
    for (let line = this.nextContent(); line !== undefined; line = this.nextContent()) {
      if (line.indent < indent || isSequenceItem(line.text)) break;
      const entry = line.indent === indent ? splitKey(line.text) : undefined;
      if (entry === undefined) throw new Error(`line ${line.number}: expected "key: value"`);
      const [key, rest] = entry;
      if (Object.hasOwn(map, key)) throw new Error(`line ${line.number}: duplicate key "${key}"`);
      this.pos++;
      map[key] = this.value(line, rest, indent);
    }
    return map;
  }

  private sequence(indent: number): YamlValue[] {
    const items: YamlValue[] = [];
    for (let line = this.nextContent(); line !== undefined; line = this.nextContent()) {
      if (line.indent !== indent || !isSequenceItem(line.text)) break;
      const rest = line.text.slice(1).trimStart();
      if (rest === '') {
        this.pos++;
        const next = this.nextContent();
        items.push(next !== undefined && next.indent > indent ? this.block(next.indent) : null);
      } else if (isSequenceItem(rest)) {
        throw new Error(`line ${line.number}: nested "- -" sequences are not supported`);
      } else if (splitKey(rest) !== undefined) {
        // "- key: value": a mapping whose keys sit at the column of the first key.
        const column = line.indent + (line.text.length - rest.length);
        this.lines[this.pos] = { number: line.number, indent: column, text: rest };
        items.push(this.mapping(column));
      } else {
        this.pos++;
        items.push(this.scalar(line, rest, indent));
      }
    }
    return items;
  }

  private value(line: Line, rest: string, indent: number): YamlValue {
    if (rest !== '') return this.scalar(line, rest, indent);
    const next = this.nextContent();
    if (next === undefined) return null;
    if (next.indent > indent) return this.block(next.indent);
    // PyYAML writes a mapping's sequence values at the key's own indentation.
    if (next.indent === indent && isSequenceItem(next.text)) return this.sequence(indent);
    return null;
  }

  /** A scalar starting on `line` and continuing on lines indented deeper than `parent`. */
  private scalar(line: Line, first: string, parent: number): YamlValue {
    const parts = [first];
    while (this.pos < this.lines.length) {
      const next = this.lines[this.pos];
      if (next === undefined) break;
      if (next.text === '') {
        const after = this.lines.slice(this.pos).find((candidate) => candidate.text !== '');
        if (after === undefined || after.indent <= parent) break;
      } else if (next.indent <= parent) break;
      // A plain scalar cannot hold ": " (PyYAML quotes such strings): this is a mis-indented
      // mapping entry, not a continuation line.
      if (!/^["']/.test(first) && splitKey(next.text) !== undefined) {
        throw new Error(`line ${next.number}: unexpected indentation`);
      }
      parts.push(next.text);
      this.pos++;
    }
    return scalarFromParts(parts, line.number);
  }
}

function parseYaml(source: string): YamlValue {
  return new BlockYamlReader(source).read();
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

const APP_VARIABLES = [
  'KAFKA_BROKERS',
  'SCHEMA_REGISTRY_URL',
  'CLICKHOUSE_URL',
  'CLICKHOUSE_USER',
  'CLICKHOUSE_PASSWORD',
  'CLICKHOUSE_DATABASE',
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
    if (
      !new RegExp(`node .*--import tsx ${entry.replace(/\./g, '\\.')}$`).test(commandText(service))
    ) {
      problems.push(`service "${name}" does not run "node --import tsx ${entry}"`);
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
  // The other direction: a built service that is not init must belong to a services/ folder.
  for (const [name, service] of Object.entries(services)) {
    if (name === 'init' || !isMap(service) || !builtFromDockerfile(service)) continue;
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

function runCompose(...args: string[]): ComposeRun {
  const compose = findCompose();
  const result = spawnSync(
    compose.command,
    [...compose.prefix, '--project-directory', REPO_ROOT, '-f', COMPOSE_FILE, ...args],
    { cwd: REPO_ROOT, encoding: 'utf8' },
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

describe('block YAML reader', () => {
  it('reads PyYAML canonical output: unindented sequences, folded and quoted scalars', () => {
    const source = [
      'services:',
      '  app:',
      '    command:',
      '    - node',
      "    - 'fetch(''http://x:'' + a).then((r)",
      "      => r)'",
      '    environment:',
      "      A: '9464'",
      '      B: "false"',
      '      C: 1',
      '      D: /bin/sh -c echo',
      '        > /dev/null',
      '      E: "a\\',
      '        \\ b\\tc"',
      '    ports:',
      '    - 127.0.0.1:8123:8123/tcp',
      '    restart: "no"',
      'volumes:',
      '  data: {}',
      "version: '3.9'",
    ].join('\n');
    expect(parseYaml(source)).toEqual({
      services: {
        app: {
          command: ['node', "fetch('http://x:' + a).then((r) => r)"],
          environment: {
            A: '9464',
            B: 'false',
            C: 1,
            D: '/bin/sh -c echo > /dev/null',
            E: 'a b\tc',
          },
          ports: ['127.0.0.1:8123:8123/tcp'],
          restart: 'no',
        },
      },
      volumes: { data: {} },
      version: '3.9',
    });
  });

  it('reads hand-written files: indented sequences of mappings, flow lists, comments', () => {
    const source = [
      '# header',
      'scrape_configs:',
      '  - job_name: a # trailing comment',
      '    static_configs:',
      '      - targets:',
      '          - x:1',
      '  - job_name: b',
      '    relabel_configs:',
      '      - source_labels: [__meta_dns_name, "b c"]',
      '        target_label: service',
    ].join('\n');
    expect(parseYaml(source)).toEqual({
      scrape_configs: [
        { job_name: 'a', static_configs: [{ targets: ['x:1'] }] },
        {
          job_name: 'b',
          relabel_configs: [{ source_labels: ['__meta_dns_name', 'b c'], target_label: 'service' }],
        },
      ],
    });
  });

  it('refuses what it does not understand', () => {
    expect(() => parseYaml('a: &x 1\nb: *x')).toThrow(/anchors/);
    expect(() => parseYaml('a: |\n  text')).toThrow(/block scalars/);
    expect(() => parseYaml('a: 1\na: 2')).toThrow(/duplicate key/);
    expect(() => parseYaml('a: 1\n   b: 2')).toThrow(/line 2/);
  });
});

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
        configs: { 'retention.ms': String(spec.retentionMs), 'cleanup.policy': spec.cleanupPolicy },
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
        { ...template, name: 'three', replicationFactor: 3 },
        { ...template, name: 'one', replicationFactor: 1 },
      ],
    };
    const plan = planTopicCreation(small, [], 1);
    expect(plan.create.map((topic) => [topic.name, topic.replicationFactor])).toEqual([
      ['three', 1],
      ['one', 1],
    ]);
    expect(plan.warnings).toEqual([
      'three: replication factor 3 reduced to 1 (the cluster has 1 broker)',
    ]);
    expect(planTopicCreation(small, [], 2).create[0]?.replicationFactor).toBe(2);
  });

  it('keeps retention -1 (forever) and the compact policy as Kafka configs', () => {
    const deployments = planTopicCreation(catalogue, [], 1).create.find(
      (topic) => topic.name === 'models.deployments',
    );
    expect(deployments?.configs).toEqual({ 'retention.ms': '-1', 'cleanup.policy': 'compact' });
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
    command: ['node', '--import', 'tsx', `services/${name}/main.ts`],
    environment: Object.fromEntries(APP_VARIABLES.map((variable) => [variable, '9464'])),
    depends_on: { init: { condition: 'service_completed_successfully' } },
  });
  const compose: YamlMap = {
    services: {
      init: {
        build: { context: '.' },
        command: 'sh -c "node --import tsx scripts/create-topics.ts"',
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
      'service "inference" does not run "node --import tsx services/inference/main.ts"',
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

  it('creates every catalogue topic through the init service, before the services start', () => {
    const init = mapAt(services.init);
    expect(builtFromDockerfile(init)).toBe(true);
    // Topics first; schemas only when that succeeded (&&).
    expect(commandText(init)).toMatch(
      /node --import tsx scripts\/create-topics\.ts && node --import tsx scripts\/register-schemas\.ts/,
    );
    expect(environmentOf(init).KAFKA_BROKERS).toBe('kafka:9092');
    expect(environmentOf(init).SCHEMA_REGISTRY_URL).toBe('http://schema-registry:8081');
    expect(dependsOnCondition(init, 'kafka')).toBe('service_healthy');
    expect(dependsOnCondition(init, 'schema-registry')).toBe('service_healthy');

    // What create-topics.ts does on the fresh single-broker cluster of the compose stack.
    const catalogue = loadCatalogue();
    const plan = planTopicCreation(catalogue, [], 1);
    expect(plan.create.map((topic) => topic.name).sort()).toEqual(
      catalogue.topics.map((topic) => topic.name).sort(),
    );
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
