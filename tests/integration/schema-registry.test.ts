/**
 * The schema registry dev server as a real process (`node --import tsx main.ts`) on a free
 * port with a temp data dir: compatibility enforcement over HTTP, ids stable across a
 * restart, and interoperability with @kafkajs/confluent-schema-registry across processes.
 * It needs none of the local stack, only its own server.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Child, startTsProcess } from '../support/processes.ts';
import { REPO_ROOT } from '../support/stack.ts';

const run = promisify(execFile);
const REGISTRY_JSON = { 'content-type': 'application/vnd.schemaregistry.v1+json' };

const ORDER_V1 = {
  type: 'record',
  name: 'Order',
  namespace: 'test.registry',
  fields: [
    { name: 'orderId', type: 'string' },
    { name: 'amount', type: 'double' },
  ],
};
const ORDER_WITH_NOTE = {
  ...ORDER_V1,
  fields: [...ORDER_V1.fields, { name: 'note', type: ['null', 'string'], default: null }],
};
const ORDER_WITH_CURRENCY = {
  ...ORDER_V1,
  fields: [...ORDER_V1.fields, { name: 'currency', type: 'string' }],
};

const dataDir = mkdtempSync(join(tmpdir(), 'schema-registry-it-'));
const urlFile = join(dataDir, 'url');
const children: Child[] = [];
let server: Child;
let url: string;

function isRunning(child: Child): boolean {
  return child.process.exitCode === null && child.process.signalCode === null;
}

/** Starts the server and resolves with its URL once it has written `<dataDir>/url`. */
async function startRegistry(): Promise<string> {
  const child = startTsProcess('infra/schema-registry/main.ts', {
    ...process.env,
    SCHEMA_REGISTRY_HOST: '127.0.0.1',
    SCHEMA_REGISTRY_PORT: '0',
    SCHEMA_REGISTRY_DATA_DIR: dataDir,
    LOG_LEVEL: 'info',
  });
  children.push(child);
  server = child;
  const deadline = Date.now() + 60_000;
  while (!existsSync(urlFile)) {
    if (!isRunning(child)) throw new Error(`registry exited early:\n${child.output()}`);
    if (Date.now() > deadline) throw new Error(`no ${urlFile} after 60 s:\n${child.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return readFileSync(urlFile, 'utf8').trim();
}

async function stopRegistry(child: Child): Promise<number | null> {
  if (isRunning(child)) child.process.kill('SIGTERM');
  const timeout = setTimeout(() => child.process.kill('SIGKILL'), 10_000);
  const code = await child.exited;
  clearTimeout(timeout);
  return code;
}

async function api(method: string, path: string, body?: unknown) {
  const response = await fetch(`${url}${path}`, {
    method,
    ...(body === undefined ? {} : { headers: REGISTRY_JSON, body: JSON.stringify(body) }),
  });
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    body: (await response.json()) as unknown,
  };
}

const registerVersion = (subject: string, schema: object) =>
  api('POST', `/subjects/${subject}/versions`, { schema: JSON.stringify(schema) });

describe('schema registry dev server (real process)', () => {
  beforeAll(async () => {
    url = await startRegistry();
  });

  afterAll(async () => {
    await Promise.all(children.map(stopRegistry));
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('announces a reachable URL in <dataDir>/url', async () => {
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(await api('GET', '/config')).toEqual({
      status: 200,
      contentType: 'application/vnd.schemaregistry.v1+json',
      body: { compatibilityLevel: 'BACKWARD' },
    });
  });

  it('rejects an incompatible change with 409 and accepts a compatible one', async () => {
    const first = await registerVersion('orders-value', ORDER_V1);
    expect(first).toMatchObject({ status: 200, body: { id: expect.any(Number) } });
    const rejected = await registerVersion('orders-value', ORDER_WITH_CURRENCY);
    expect(rejected.status).toBe(409);
    expect(rejected.body).toEqual({
      error_code: 409,
      message: expect.stringContaining(
        'Schema being registered is incompatible with an earlier schema for subject "orders-value"',
      ),
    });
    const accepted = await registerVersion('orders-value', ORDER_WITH_NOTE);
    expect(accepted.status).toBe(200);
    expect((await api('GET', '/subjects/orders-value/versions')).body).toEqual([1, 2]);
  });

  it('keeps ids across a restart on the same data dir', async () => {
    const v1 = (await registerVersion('orders-value', ORDER_V1)).body as { id: number };
    const v2 = (await registerVersion('orders-value', ORDER_WITH_NOTE)).body as { id: number };

    expect(await stopRegistry(server)).toBe(0);
    // A stopped server no longer advertises itself.
    expect(existsSync(urlFile)).toBe(false);
    url = await startRegistry();

    const served = (await api('GET', `/schemas/ids/${v2.id}`)).body as { schema: string };
    expect(JSON.parse(served.schema)).toEqual(ORDER_WITH_NOTE);
    expect((await registerVersion('orders-value', ORDER_WITH_NOTE)).body).toEqual(v2);
    expect((await registerVersion('orders-value', ORDER_V1)).body).toEqual(v1);
    expect((await api('GET', '/subjects/orders-value/versions')).body).toEqual([1, 2]);
    // Ids are not handed out twice after a restart.
    const other = (await registerVersion('other-value', { type: 'string' })).body as {
      id: number;
    };
    expect(other.id).toBeGreaterThan(Math.max(v1.id, v2.id));
  });

  it('serves @kafkajs/confluent-schema-registry: encoded here, decoded in another process', async () => {
    const topic = 'registry-it.orders';
    const subject = `${topic}-value`;
    const registry = new SchemaRegistry({ host: url });
    const { id } = await registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(ORDER_WITH_NOTE) },
      { subject },
    );
    // The same schema under another subject keeps its global id.
    const known = (await registerVersion('orders-value', ORDER_WITH_NOTE)).body as { id: number };
    expect(id).toBe(known.id);
    expect(await registry.getLatestSchemaId(subject)).toBe(id);
    expect(
      await registry.getRegistryIdBySchema(subject, {
        type: SchemaType.AVRO,
        schema: JSON.stringify(ORDER_WITH_NOTE),
      }),
    ).toBe(id);

    const order = { orderId: 'o-1', amount: 12.5, note: 'gift wrap ✓' };
    const message = await registry.encode(id, order);
    expect(message[0]).toBe(0);
    expect(message.readUInt32BE(1)).toBe(id);
    expect(message.subarray(0, 5)).toEqual(
      Buffer.from([0, (id >>> 24) & 0xff, (id >>> 16) & 0xff, (id >>> 8) & 0xff, id & 0xff]),
    );

    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', 'tests/integration/fixtures-schema-registry/decode.ts'],
      {
        cwd: REPO_ROOT,
        env: { ...process.env, SCHEMA_REGISTRY_URL: url, MESSAGE_HEX: message.toString('hex') },
        timeout: 60_000,
      },
    );
    expect(JSON.parse(stdout)).toEqual(order);
  });
});
