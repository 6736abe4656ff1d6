import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger } from '#platform/common';
import type { ModelInfo } from '#domain/model';
import type { ConsumedEvent, HandlerContext } from '#platform/runner';
import { type PlanTarget, createDeploymentHandler } from '#domain/scoring';
import {
  type Deployment,
  DeploymentKeyError,
  DeploymentSignatureError,
  DeploymentSigner,
  DeploymentVerifier,
  generateDeploymentKeyPair,
} from '#platform/serde';

const registryKeys = generateDeploymentKeyPair();
const signer = new DeploymentSigner(registryKeys.privateKeyPem);
const verifier = DeploymentVerifier.fromPem(registryKeys.publicKeyPem);

let clock = 1_000;
function fields(
  version: string,
  overrides: Partial<Deployment> = {},
): Omit<Deployment, 'signature'> {
  clock += 1_000;
  return {
    eventId: `00000000-0000-4000-8000-${String(clock).padStart(12, '0')}`,
    eventTime: clock,
    modelName: 'sentiment',
    modelVersion: version,
    previousVersion: '1',
    action: 'PROMOTE',
    artifactUri: `file:///artifacts/${version}`,
    artifactSha256: 'ab'.repeat(32),
    actor: 'promoter',
    reason: 'better',
    candidate: null,
    ...overrides,
  };
}

function reasonOf(deployment: Deployment, by: DeploymentVerifier = verifier): string {
  try {
    by.verify(deployment);
    return 'valid';
  } catch (error) {
    expect(error).toBeInstanceOf(DeploymentSignatureError);
    expect(error).toMatchObject({ code: 'DEPLOYMENT_SIGNATURE_INVALID', retriable: false });
    return (error as DeploymentSignatureError).reason;
  }
}

describe('deployment signatures', () => {
  it('a deployment signed by the registry verifies; the signature names its key', () => {
    const signed = signer.sign(fields('2'));
    expect(signed.signature).toMatch(new RegExp(`^ed25519:${signer.keyId}:[A-Za-z0-9+/=]+$`));
    expect(reasonOf(signed)).toBe('valid');
  });

  it('refuses unsigned, malformed, unknown-key and altered deployments', () => {
    const signed = signer.sign(fields('2'));
    expect(reasonOf({ ...signed, signature: null })).toBe('unsigned');
    expect(reasonOf({ ...signed, signature: 'hmac:abc' })).toBe('malformed');
    const attacker = new DeploymentSigner(generateDeploymentKeyPair().privateKeyPem);
    expect(reasonOf(attacker.sign(fields('evil')))).toBe('unknown_key');
    // Every field is covered: changing any one of them breaks the signature.
    const changes: Partial<Deployment>[] = [
      { eventId: '00000000-0000-4000-8000-999999999999' },
      { eventTime: signed.eventTime + 1 },
      { modelName: 'other' },
      { modelVersion: '3' },
      { previousVersion: null },
      { action: 'ROLLBACK' },
      { artifactUri: 'file:///artifacts/evil' },
      { artifactSha256: 'cd'.repeat(32) },
      { actor: 'someone' },
      { reason: 'changed' },
    ];
    for (const change of changes) expect(reasonOf({ ...signed, ...change })).toBe('invalid');
  });

  it('trusts every key of the trusted file and re-reads it on change (rotation)', () => {
    const folder = mkdtempSync(join(tmpdir(), 'keys-'));
    const path = join(folder, 'trusted.pub');
    writeFileSync(path, registryKeys.publicKeyPem);
    const fromFile = DeploymentVerifier.fromFile(path);
    const next = generateDeploymentKeyPair();
    const nextSigner = new DeploymentSigner(next.privateKeyPem);
    expect(reasonOf(nextSigner.sign(fields('2')), fromFile)).toBe('unknown_key');
    writeFileSync(path, registryKeys.publicKeyPem + next.publicKeyPem);
    expect(reasonOf(nextSigner.sign(fields('2')), fromFile)).toBe('valid');
    expect(reasonOf(signer.sign(fields('2')), fromFile)).toBe('valid');
    expect(fromFile.keyIds).toEqual([signer.keyId, nextSigner.keyId]);
    writeFileSync(path, next.publicKeyPem);
    expect(reasonOf(signer.sign(fields('2')), fromFile)).toBe('unknown_key');
  });

  it('rejects keys that are not Ed25519 PEM with a clear error', () => {
    expect(() => new DeploymentSigner('not a key')).toThrow(DeploymentKeyError);
    expect(() => DeploymentVerifier.fromPem('')).toThrow(/no PEM public key/);
    expect(() => DeploymentSigner.fromFile('/nonexistent/key')).toThrow(/cannot read/);
  });
});

describe('deployment handler', () => {
  const logger = createLogger('test', 'fatal');
  const context = {} as HandlerContext;
  let offset = 0;
  const consumed = (event: Deployment): ConsumedEvent<Deployment> => ({
    topic: 'models.deployments',
    partition: 0,
    offset: String(offset++),
    key: Buffer.from(event.modelName),
    value: Buffer.from('bytes'),
    headers: {},
    timestamp: String(event.eventTime),
    schemaId: 1,
    event,
  });

  function serving() {
    let version = '1';
    const swaps: string[] = [];
    const refused: string[] = [];
    const target: PlanTarget = {
      get model() {
        return { version } as ModelInfo;
      },
      candidate: null,
      swapProduction: async (folder) => {
        swaps.push(folder);
        version = folder.split('/').at(-1)!;
        return { version } as ModelInfo;
      },
      setCandidate: async () => {
        throw new Error('no candidate in these deployments');
      },
    };
    const handler = createDeploymentHandler({
      modelName: 'sentiment',
      target: () => target,
      baseDir: '/',
      verifier,
      verify: async () => undefined,
      onRefused: (reason) => refused.push(reason),
      logger,
    });
    return { handler, swaps, refused, version: () => version };
  }

  it('applies a signed deployment; rejects a forged one without swapping', async () => {
    const { handler, swaps, refused, version } = serving();
    const forged = consumed({ ...fields('evil'), signature: null });
    const result = await handler([forged], context);
    expect(result?.rejected?.map((r) => r.event)).toEqual([forged]);
    expect(refused).toEqual(['unsigned']);
    expect(swaps).toEqual([]);
    const genuine = consumed(signer.sign(fields('2')));
    expect((await handler([genuine], context))?.rejected).toEqual([]);
    expect(version()).toBe('2');
  });

  it('a forged event newer than a genuine one in the same batch does not hide it', async () => {
    const { handler, refused, version } = serving();
    const genuine = consumed(signer.sign(fields('2')));
    const attacker = new DeploymentSigner(generateDeploymentKeyPair().privateKeyPem);
    const forged = consumed(attacker.sign(fields('evil')));
    const result = await handler([genuine, forged], context);
    expect(result?.rejected?.map((r) => r.event)).toEqual([forged]);
    expect(refused).toEqual(['unknown_key']);
    expect(version()).toBe('2');
  });

  it('ignores a replayed genuine deployment older than the newest seen', async () => {
    const { handler, swaps, version } = serving();
    const old = consumed(signer.sign(fields('2')));
    const newer = consumed(signer.sign(fields('3')));
    await handler([newer], context);
    expect(version()).toBe('3');
    const result = await handler([old], context);
    expect(result?.rejected).toEqual([]);
    expect(version()).toBe('3');
    expect(swaps).toEqual(['/artifacts/3']);
  });
});
