/**
 * How the drift service learns production: signed deployments on `models.deployments` (the
 * serving paths' source of truth), trusted only when a registry key signed them; and the
 * detector's view built from the newest one plus the registry's stored calibrations.
 */
import { describe, expect, it } from 'vitest';
import { createLogger } from '#platform/common';
import type { ConsumedEvent, HandlerContext } from '#platform/runner';
import {
  type Deployment,
  DeploymentSignatureError,
  DeploymentSigner,
  DeploymentVerifier,
  generateDeploymentKeyPair,
} from '#platform/serde';
import type { ModelVersionRecord } from '#platform/store';
import { deployedProduction } from '../../services/drift/adapters.ts';
import { ProductionFollower } from '../../services/drift/deployments.ts';

const registryKeys = generateDeploymentKeyPair();
const signer = new DeploymentSigner(registryKeys.privateKeyPem);
const verifier = DeploymentVerifier.fromPem(registryKeys.publicKeyPem);
const forger = new DeploymentSigner(generateDeploymentKeyPair().privateKeyPem);

let clock = 1_000;
function deployment(version: string, overrides: Partial<Deployment> = {}, by = signer) {
  clock += 1_000;
  return by.sign({
    eventId: `00000000-0000-4000-8000-${String(clock).padStart(12, '0')}`,
    eventTime: clock,
    modelName: 'sentiment',
    modelVersion: version,
    previousVersion: null,
    action: 'PROMOTE',
    artifactUri: `file:///artifacts/${version}`,
    artifactSha256: version.repeat(64).slice(0, 64),
    actor: 'promoter',
    reason: 'better',
    candidate: null,
    ...overrides,
  });
}

let offset = 0;
const consumed = (event: Deployment): ConsumedEvent<Deployment> => ({
  topic: 'models.deployments',
  partition: 0,
  offset: String(offset++),
  key: null,
  value: null,
  headers: {},
  timestamp: '0',
  schemaId: 1,
  event,
});

const context: HandlerContext = {
  heartbeat: async () => undefined,
  signal: new AbortController().signal,
  output: {
    send: async () => {
      throw new Error('the deployment follower derives no events');
    },
  },
};

function follower() {
  const refused: string[] = [];
  const instance = new ProductionFollower({
    modelName: 'sentiment',
    verifier,
    onRefused: (reason) => refused.push(reason),
    logger: createLogger('test', 'silent'),
  });
  const handle = async (...events: Deployment[]) =>
    (await instance.handler(events.map(consumed), context)) ?? {};
  return { instance, refused, handle };
}

describe('drift follows models.deployments', () => {
  it('knows no production before the first deployment, then the newest signed one', async () => {
    const { instance, handle } = follower();
    expect(instance.current()).toBeNull();
    // A replay of the compacted topic in one batch ends on the newest.
    const first = deployment('1');
    const second = deployment('2', { previousVersion: '1' });
    await handle(second, first);
    expect(instance.current()).toMatchObject({
      version: '2',
      artifactUri: 'file:///artifacts/2',
      artifactSha256: second.artifactSha256,
      eventId: second.eventId,
    });
    await handle(deployment('1', { action: 'ROLLBACK', previousVersion: '2' }));
    expect(instance.current()?.version).toBe('1');
  });

  it('rejects (dead-letters) and counts a forged, altered or unsigned deployment; production stays', async () => {
    const { instance, refused, handle } = follower();
    await handle(deployment('1'));
    const forged = deployment('666', {}, forger);
    const altered = { ...deployment('2'), artifactUri: 'file:///elsewhere' };
    const unsigned = { ...deployment('3'), signature: null };
    const result = await handle(forged, altered, unsigned);
    expect(result.rejected?.map((r) => r.event.event.modelVersion)).toEqual(['666', '2', '3']);
    expect(result.rejected?.every((r) => r.error instanceof DeploymentSignatureError)).toBe(true);
    expect(refused).toEqual(['unknown_key', 'invalid', 'unsigned']);
    expect(instance.current()?.version).toBe('1');
  });

  it("ignores other models' deployments and a replayed older one", async () => {
    const { instance, handle } = follower();
    const old = deployment('1');
    await handle(deployment('2'));
    await handle(deployment('9', { modelName: 'other' }));
    expect(instance.current()?.version).toBe('2');
    const result = await handle(old);
    expect(result.rejected).toEqual([]);
    expect(instance.current()?.version).toBe('2');
  });
});

describe("the detector's production: deployment + the registry's calibrations", () => {
  const record = (driftCalibration: Record<string, unknown>) =>
    ({ driftCalibration }) as unknown as ModelVersionRecord;

  it('verifies the signed artifact once, and reads the calibrations every round', async () => {
    const verified: string[] = [];
    const reads: string[] = [];
    let current: ReturnType<ProductionFollower['current']> = null;
    const production = deployedProduction({
      current: () => current,
      registry: {
        version: async (model, version) => {
          reads.push(`${model}/${version}`);
          return version === '1' ? record({ 'w200-a0.001-auc': { windowSize: 200 } }) : null;
        },
      },
      modelName: 'sentiment',
      baseDir: '/repo',
      verify: async (folder, sha256) => void verified.push(`${folder}@${sha256.slice(0, 4)}`),
    });
    expect(await production()).toBeNull();
    const d = deployment('1', { artifactUri: 'var/artifacts/abc' });
    current = {
      version: '1',
      artifactUri: d.artifactUri,
      artifactSha256: d.artifactSha256,
      eventId: d.eventId,
      eventTime: d.eventTime,
    };
    expect(await production()).toEqual({
      version: '1',
      folder: '/repo/var/artifacts/abc',
      calibrations: { 'w200-a0.001-auc': { windowSize: 200 } },
    });
    await production();
    expect(verified).toEqual(['/repo/var/artifacts/abc@1111']);
    expect(reads).toEqual(['sentiment/1', 'sentiment/1']);
    // A deployed version the registry does not know: no calibrations (the detector reports it).
    current = { ...current, version: '7', artifactSha256: '7'.repeat(64) };
    expect((await production())?.calibrations).toBeNull();
  });

  it('a folder that fails its signed digest fails the round', async () => {
    const d = deployment('1');
    const production = deployedProduction({
      current: () => ({ version: '1', ...d }),
      registry: { version: async () => null },
      modelName: 'sentiment',
      baseDir: '/repo',
      verify: async () => {
        throw new Error('artifact digest mismatch');
      },
    });
    await expect(production()).rejects.toThrow('digest mismatch');
  });
});
