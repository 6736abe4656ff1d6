/**
 * Peer benchmark: our gateway against "the usual serving stack" for the same model, FastAPI +
 * uvicorn + transformers' pipeline("sentiment-analysis") on PyTorch (scripts/bench/peer/server.py,
 * in var/venv-peer, made here from scripts/bench/peer/requirements-peer.txt when missing or out of
 * date), both loaded the same way: autocannon, POST /v1/predict with one SST-2 dev sentence per
 * request (a fixed rotating list, the same for both), at 1, 4, 16 and 64 connections after a
 * short warm-up. Prints req/s, p50 and p99 of each and their ratios (gateway / peer).
 *   npm run bench:peer [-- --seconds 10 --model models/sentiment-minilm
 *                          --hf-model var/cache/models/sentiment-minilm-hf
 *                          --peer-workers 1 --peer-threads 0 --connections 1,4,16,64]
 * The gateway serves the int8 ONNX graph of --model (MODEL_DIR; INTRA_OP_THREADS from the
 * environment, 1 by default) on a bench stack of its own; the peer serves the same fine-tuned
 * weights in Hugging Face's PyTorch layout (--hf-model, written by `make model`), torch threads
 * one per core unless --peer-threads says otherwise.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { REPO_ROOT } from '../lib/repo.ts';
import { progress, sst2Sentences, table } from './common.ts';
import { benchServiceEnv, benchStack, startService } from './stack.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    connections: { type: 'string', default: '1,4,16,64' },
    model: { type: 'string', default: 'models/sentiment-minilm' },
    'hf-model': { type: 'string', default: 'var/cache/models/sentiment-minilm-hf' },
    port: { type: 'string', default: '0' },
    'peer-port': { type: 'string', default: '0' },
    'peer-workers': { type: 'string', default: '1' },
    'peer-threads': { type: 'string', default: '0' },
  },
});

const VENV = resolve(REPO_ROOT, 'var/venv-peer');
const PYTHON = `${VENV}/bin/python`;
const REQUIREMENTS = resolve(REPO_ROOT, 'scripts/bench/peer/requirements-peer.txt');
const STAMP = `${VENV}/.requirements-peer.sha256`;
const SERVER = resolve(REPO_ROOT, 'scripts/bench/peer/server.py');
const OFFLINE = { HF_HUB_OFFLINE: '1', TRANSFORMERS_OFFLINE: '1' };
const READY_TIMEOUT_MS = 180_000;

function fail(message: string): never {
  process.stderr.write(`[bench] error: ${message}\n`);
  process.exit(1);
}

function positiveInt(name: string, value: string, min = 1): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) fail(`--${name} must be an integer >= ${min}, not ${value}`);
  return n;
}

/** Creates var/venv-peer, or brings it up to date with requirements-peer.txt. */
function ensureVenv(): void {
  const want = createHash('sha256').update(readFileSync(REQUIREMENTS)).digest('hex');
  if (existsSync(PYTHON) && existsSync(STAMP) && readFileSync(STAMP, 'utf8').trim() === want) {
    return;
  }
  try {
    execFileSync('/usr/bin/python3', ['-c', 'import torch, numpy'], { stdio: 'ignore' });
  } catch {
    fail(
      "/usr/bin/python3 cannot import torch and numpy: install Debian's python3-torch and " +
        'python3-numpy (models/apt-packages.txt); the peer uses them, not PyPI wheels',
    );
  }
  if (!existsSync(PYTHON)) {
    progress('creating var/venv-peer (python3 -m venv --system-site-packages)');
    execFileSync('/usr/bin/python3', ['-m', 'venv', '--system-site-packages', VENV], {
      stdio: ['ignore', 2, 'inherit'],
    });
  }
  progress('installing scripts/bench/peer/requirements-peer.txt into var/venv-peer (--no-deps)');
  execFileSync(
    PYTHON,
    [
      ...['-m', 'pip', 'install', '--no-deps', '--disable-pip-version-check'],
      ...['--progress-bar', 'off', '-r', REQUIREMENTS],
    ],
    { stdio: ['ignore', 2, 'inherit'] },
  );
  progress('checking var/venv-peer: import torch, transformers, fastapi, uvicorn');
  execFileSync(PYTHON, ['-c', 'import torch, transformers, fastapi, uvicorn'], {
    stdio: ['ignore', 2, 'inherit'],
    env: { ...process.env, ...OFFLINE },
  });
  writeFileSync(STAMP, `${want}\n`);
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ok, ko) => {
    server.once('error', ko);
    server.listen(0, '127.0.0.1', ok);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise((ok) => server.close(ok));
  return port;
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

async function waitReady(name: string, child: ChildProcess, url: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (exited(child)) throw new Error(`${name} exited (code ${child.exitCode}) before ready`);
    if (Date.now() > deadline) throw new Error(`${name} not ready after ${READY_TIMEOUT_MS} ms`);
    const ok = await fetch(url).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((wake) => setTimeout(wake, 300));
  }
}

/** SIGTERM (to the process group where the child leads one), SIGKILL after `graceMs`. */
async function stop(child: ChildProcess, group: boolean, graceMs: number): Promise<void> {
  if (child.pid === undefined || exited(child)) return;
  const signal = (sig: NodeJS.Signals) => {
    try {
      if (group) process.kill(-child.pid!, sig);
      else child.kill(sig);
    } catch {
      // already gone
    }
  };
  const gone = new Promise((done) => child.once('exit', done));
  signal('SIGTERM');
  const timer = setTimeout(() => signal('SIGKILL'), graceMs);
  await gone;
  clearTimeout(timer);
}

interface Prediction {
  results: { label: string }[];
}

async function predict(url: string, texts: string[]): Promise<Prediction> {
  const response = await fetch(`${url}/v1/predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ texts }),
  });
  if (!response.ok)
    throw new Error(`${url}/v1/predict: ${response.status} ${await response.text()}`);
  return (await response.json()) as Prediction;
}

interface Load {
  reqPerSec: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
  timeouts: number;
}

async function load(
  url: string,
  bodies: readonly string[],
  connections: number,
  seconds: number,
): Promise<Load> {
  const result = await autocannon({
    url,
    connections,
    duration: seconds,
    // One request per body, in order, round and round: the same texts for both servers.
    requests: bodies.map((body) => ({
      method: 'POST' as const,
      path: '/v1/predict',
      headers: { 'content-type': 'application/json' },
      body,
    })),
  });
  return {
    reqPerSec: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors,
    non2xx: result.non2xx,
    timeouts: result.timeouts,
  };
}

// ---------------------------------------------------------------------------------------------

const seconds = positiveInt('seconds', values.seconds);
const warmup = positiveInt('warmup', values.warmup, 0);
const peerWorkers = positiveInt('peer-workers', values['peer-workers']);
const peerThreads = positiveInt('peer-threads', values['peer-threads'], 0);
const levels = values.connections.split(',').map((c) => positiveInt('connections', c.trim()));
const hfModel = resolve(REPO_ROOT, values['hf-model']);
const gatewayModel = values.model;

if (!['config.json', 'model.safetensors'].every((f) => existsSync(`${hfModel}/${f}`))) {
  fail(
    `no Hugging Face model at ${values['hf-model']} (config.json, model.safetensors): run ` +
      '`make model` first (models/build-minilm.sh writes it with models/export_hf.py), or ' +
      'pass --hf-model <folder>',
  );
}
if (!existsSync(resolve(REPO_ROOT, gatewayModel, 'config.json'))) {
  fail(
    `no model at ${gatewayModel} for the gateway: run \`make model\` first, or pass ` +
      '--model <folder> (e.g. models/sentiment-compact)',
  );
}

ensureVenv();
const texts = sst2Sentences('dev');
const bodies = texts.map((text) => JSON.stringify({ texts: [text] }));

let peer: ChildProcess | undefined;
let gateway: ChildProcess | undefined;
let stackUp = false;
let cleaning: Promise<void> | undefined;
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    progress('stopping the peer, the gateway and the bench stack');
    await Promise.all([
      peer ? stop(peer, true, 10_000) : undefined,
      gateway ? stop(gateway, false, 20_000) : undefined,
    ]);
    if (stackUp) benchStack('down');
  })();
  return cleaning;
}
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    void cleanup().finally(() => process.exit(130));
  });
}

try {
  const peerPort = Number(values['peer-port']) || (await freePort());
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  progress(`starting the peer (uvicorn, ${peerWorkers} worker(s)) on ${peerUrl}`);
  peer = spawn(
    PYTHON,
    [
      ...[SERVER, '--model', hfModel, '--port', String(peerPort)],
      ...['--workers', String(peerWorkers), '--threads', String(peerThreads)],
    ],
    {
      cwd: REPO_ROOT,
      env: { ...process.env, ...OFFLINE },
      stdio: ['ignore', 2, 'inherit'],
      // Its own process group: uvicorn's workers stop with it.
      detached: true,
    },
  );

  progress('starting the bench stack and the gateway');
  stackUp = true; // `down` is idempotent: also after an `up` that failed half-way
  benchStack('up');
  const gatewayPort = Number(values.port) || (await freePort());
  const gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
  gateway = startService(
    'gateway',
    benchServiceEnv({
      GATEWAY_PORT: String(gatewayPort),
      GATEWAY_HOST: '127.0.0.1',
      MODEL_DIR: gatewayModel,
    }),
  );
  await Promise.all([
    waitReady('the peer', peer, `${peerUrl}/health`),
    waitReady('the gateway', gateway, `${gatewayUrl}/ready`),
  ]);
  const served = (await fetch(`${gatewayUrl}/v1/model`).then((r) => r.json())) as {
    name: string;
    version: string;
  };

  // Same answers? Only meaningful when both serve the same fine-tuned weights.
  const sample = texts.slice(0, 64);
  const [ours, theirs] = await Promise.all([predict(gatewayUrl, sample), predict(peerUrl, sample)]);
  const agree = ours.results.filter((r, i) => r.label === theirs.results[i]?.label).length;

  const targets = [
    { name: 'gateway', url: gatewayUrl },
    { name: 'peer', url: peerUrl },
  ];
  for (const { name, url } of targets) {
    if (warmup === 0) break;
    progress(`warm-up: ${name}, 4 connections, ${warmup} s`);
    await load(url, bodies, 4, warmup);
  }

  const rows: Record<string, string | number>[] = [];
  for (const connections of levels) {
    const results: Record<string, Load> = {};
    for (const { name, url } of targets) {
      progress(`autocannon: ${name}, ${connections} connections, ${seconds} s`);
      results[name] = await load(url, bodies, connections, seconds);
    }
    const g = results.gateway!;
    const p = results.peer!;
    rows.push({
      connections,
      'gw req/s': g.reqPerSec,
      'gw p50 ms': g.p50,
      'gw p99 ms': g.p99,
      'peer req/s': p.reqPerSec,
      'peer p50 ms': p.p50,
      'peer p99 ms': p.p99,
      'req/s gw/peer': g.reqPerSec / p.reqPerSec,
      'p99 gw/peer': g.p99 / p.p99,
      'gw err/non2xx/timeout': `${g.errors}/${g.non2xx}/${g.timeouts}`,
      'peer err/non2xx/timeout': `${p.errors}/${p.non2xx}/${p.timeouts}`,
    });
  }

  console.log(
    [
      '',
      `gateway: ${gatewayModel} (serving ${served.name} ${served.version}), ` +
        `INTRA_OP_THREADS=${process.env.INTRA_OP_THREADS ?? '1 (default)'}`,
      `peer:    FastAPI + uvicorn (${peerWorkers} worker(s)) + transformers pipeline on ` +
        `PyTorch, ${values['hf-model']}, torch threads ` +
        `${peerThreads === 0 ? `${availableParallelism()} (one per core)` : peerThreads}`,
      `load:    autocannon, 1 SST-2 dev sentence per request (${bodies.length} rotating), ` +
        `${seconds} s per level after ${warmup} s warm-up; ${availableParallelism()} CPU cores`,
      `labels:  gateway and peer agree on ${agree}/${sample.length} dev sentences`,
      '',
    ].join('\n'),
  );
  console.log(table(rows));
} catch (error) {
  process.exitCode = 1;
  process.stderr.write(`[bench] error: ${error instanceof Error ? error.message : error}\n`);
} finally {
  await cleanup();
}
