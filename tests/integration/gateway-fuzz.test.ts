/**
 * Property-based fuzzing of the gateway's HTTP API with schemathesis (PyPI, pinned in
 * tests/fuzz/requirements-fuzz.txt, installed in var/venv-fuzz by `make test`): it reads the
 * gateway's own OpenAPI document and sends generated valid and invalid requests to every
 * operation. Checks: no 5xx (not_a_server_error), every status is documented
 * (status_code_conformance), every body matches its documented schema
 * (response_schema_conformance) and content type (content_type_conformance).
 *
 * The gateway runs here with the compact model (real scoring in its worker thread), listening
 * on a free loopback port, with an admin key (every route reachable) and once anonymously.
 * Bounded for CI: GATEWAY_FUZZ_EXAMPLES examples per operation (default 40), fixed seed.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MicroBatcher, ModelHost } from '#domain/model';
import { buildApp } from '../../services/gateway/app.ts';
import { authHeaders, gatewayHarness } from '../support/gateway.ts';
import { COMPACT_MODEL_DIR } from '../support/model.ts';
import { REPO_ROOT } from '../support/stack.ts';

const SCHEMATHESIS = join(REPO_ROOT, 'var/venv-fuzz/bin/schemathesis');
const EXAMPLES = process.env.GATEWAY_FUZZ_EXAMPLES ?? '40';

/** Runs schemathesis asynchronously: the gateway under test answers from this process. */
function fuzz(
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number; output: string }> {
  const child = spawn(
    SCHEMATHESIS,
    [
      'run',
      `${url}/docs/json`,
      '--base-url',
      url,
      '--checks',
      'not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance',
      // Invalid requests as well as valid ones.
      '--data-generation-method',
      'all',
      '--hypothesis-max-examples',
      EXAMPLES,
      '--hypothesis-seed',
      '20261202',
      '--hypothesis-derandomize',
      '--hypothesis-suppress-health-check',
      'all',
      '--no-color',
      ...Object.entries(headers).flatMap(([name, value]) => ['-H', `${name}: ${value}`]),
    ],
    {
      env: { ...process.env, SCHEMATHESIS_TELEMETRY: 'false', PYTHONUNBUFFERED: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 240_000);
  return new Promise((resolve) =>
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ status: code ?? -1, output });
    }),
  );
}

describe('gateway fuzzing (schemathesis against the OpenAPI document)', () => {
  let host: ModelHost;
  let app: FastifyInstance;
  let url: string;

  beforeAll(async () => {
    if (!existsSync(SCHEMATHESIS)) {
      throw new Error(`${SCHEMATHESIS} is missing: run make fuzz-tools (make test does)`);
    }
    host = await ModelHost.start(COMPACT_MODEL_DIR);
    const batcher = new MicroBatcher(host);
    const harness = gatewayHarness((texts) => batcher.score(texts), host.model);
    app = await buildApp({
      ...harness.deps,
      model: () => host.model,
      limits: { maxTexts: 16, maxTextBytes: 2_000, maxReviewsInFlight: 10_000 },
    });
    url = await app.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await app?.close();
    await host?.close();
  });

  it('with an admin key: no 5xx, every answer documented and matching its schema', async () => {
    const { status, output } = await fuzz(url, authHeaders('admin'));
    console.log(output.split('\n').slice(-25).join('\n'));
    expect(status, output).toBe(0);
    // Every operation was exercised, not skipped.
    expect(output).toMatch(/POST \/v1\/predict/);
    expect(output).toMatch(/POST \/v1\/reviews/);
  }, 300_000);

  it('without a key: refused with documented 401s, never a 5xx', async () => {
    const { status, output } = await fuzz(url, {});
    console.log(output.split('\n').slice(-15).join('\n'));
    expect(status, output).toBe(0);
  }, 300_000);
});
