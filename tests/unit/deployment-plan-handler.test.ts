/**
 * A serving process applying signed serving plans (#domain/scoring createDeploymentHandler):
 * production is swapped only when its version changes, the candidate is loaded (its folder
 * verified against the candidate's own digest), re-roled or retired, and a plan already in
 * force changes nothing.
 */
import { describe, expect, it } from 'vitest';
import { createLogger } from '#platform/common';
import type { ModelInfo } from '#domain/model';
import type { ConsumedEvent, HandlerContext } from '#platform/runner';
import { type LiveCandidate, type PlanTarget, createDeploymentHandler } from '#domain/scoring';
import {
  type Deployment,
  type DeploymentCandidate,
  DeploymentSignatureError,
} from '#platform/serde';

const logger = createLogger('test', 'fatal');
const context = {} as HandlerContext;
const sha = (version: string) => version.repeat(64).slice(0, 64);

let clock = 1_000;
let offset = 0;
function plan(
  production: string,
  candidate: Omit<DeploymentCandidate, 'artifactUri' | 'artifactSha256'> | null,
  overrides: Partial<Deployment> = {},
): ConsumedEvent<Deployment> {
  clock += 1_000;
  const event: Deployment = {
    eventId: `00000000-0000-4000-8000-${String(clock).padStart(12, '0')}`,
    eventTime: clock,
    modelName: 'sentiment',
    modelVersion: production,
    previousVersion: null,
    action: candidate ? candidate.role : 'PROMOTE',
    artifactUri: `file:///artifacts/${production}`,
    artifactSha256: sha(production),
    actor: 'promoter',
    reason: 'test',
    candidate: candidate && {
      ...candidate,
      artifactUri: `file:///artifacts/${candidate.modelVersion}`,
      artifactSha256: sha(candidate.modelVersion),
    },
    signature: 'ed25519:fake:signed',
    ...overrides,
  };
  return {
    topic: 'models.deployments',
    partition: 0,
    offset: String(offset++),
    key: Buffer.from(event.modelName),
    value: Buffer.from('bytes'),
    headers: {},
    timestamp: String(event.eventTime),
    schemaId: 1,
    event,
  };
}

/**
 * A handler over a fake serving process with production '1' and no candidate. Every call on
 * the target and every folder verification is recorded in `calls`, in order.
 */
function serving(options: { failVerify?: string } = {}) {
  const calls: string[] = [];
  let production = '1';
  let candidate: LiveCandidate | null = null;
  const target: PlanTarget = {
    get model() {
      return { version: production } as ModelInfo;
    },
    get candidate() {
      return candidate;
    },
    swapProduction: async (folder) => {
      calls.push(`swap ${folder}`);
      production = folder.split('/').at(-1)!;
      return { version: production } as ModelInfo;
    },
    setCandidate: async (next) => {
      calls.push(
        next
          ? `candidate ${next.version} ${next.role} ${next.trafficShare} ${next.folder}`
          : 'retire',
      );
      candidate = next && {
        version: next.version,
        role: next.role,
        trafficShare: next.trafficShare,
      };
    },
  };
  const handler = createDeploymentHandler({
    modelName: 'sentiment',
    target: () => target,
    baseDir: '/',
    // Signatures are tested apart (deployment-signature tests): this one trusts 'signed' only.
    verifier: {
      verify: (deployment) => {
        if (!deployment.signature?.endsWith(':signed')) {
          throw new DeploymentSignatureError('invalid', 'forged');
        }
      },
    },
    verify: async (folder, digest) => {
      calls.push(`verify ${folder} ${digest.slice(0, 2)}`);
      if (folder === options.failVerify) throw new Error(`digest mismatch in ${folder}`);
    },
    logger,
  });
  return {
    handler,
    calls,
    production: () => production,
    candidate: () => candidate,
  };
}

describe('deployment handler: serving plans', () => {
  it('swaps production only when its version differs from the one serving', async () => {
    const { handler, calls, production } = serving();
    await handler([plan('1', null)], context);
    expect(calls).toEqual([]);
    await handler([plan('2', null)], context);
    expect(calls).toEqual(['verify /artifacts/2 22', 'swap /artifacts/2']);
    expect(production()).toBe('2');
    await handler([plan('2', null, { action: 'ROLLBACK', reason: 'again' })], context);
    expect(calls).toHaveLength(2);
  });

  it("loads a new candidate after verifying its folder against the candidate's digest", async () => {
    const { handler, calls, candidate } = serving();
    await handler([plan('1', { modelVersion: '3', role: 'SHADOW', trafficShare: 0 })], context);
    expect(calls).toEqual(['verify /artifacts/3 33', 'candidate 3 SHADOW 0 /artifacts/3']);
    expect(candidate()).toEqual({ version: '3', role: 'SHADOW', trafficShare: 0 });
  });

  it('a candidate whose folder fails verification is not loaded (the event fails)', async () => {
    const { handler, calls, candidate } = serving({ failVerify: '/artifacts/3' });
    await expect(
      handler([plan('1', { modelVersion: '3', role: 'CANARY', trafficShare: 0.1 })], context),
    ).rejects.toThrow(/digest mismatch/);
    expect(calls).toEqual(['verify /artifacts/3 33']);
    expect(candidate()).toBeNull();
  });

  it('the same version in a new role or share is re-roled without verifying or loading', async () => {
    const { handler, calls, candidate } = serving();
    await handler([plan('1', { modelVersion: '3', role: 'SHADOW', trafficShare: 0 })], context);
    calls.length = 0;
    await handler([plan('1', { modelVersion: '3', role: 'CANARY', trafficShare: 0.05 })], context);
    expect(calls).toEqual(['candidate 3 CANARY 0.05 /artifacts/3']);
    await handler([plan('1', { modelVersion: '3', role: 'CANARY', trafficShare: 0.2 })], context);
    expect(calls).toEqual([
      'candidate 3 CANARY 0.05 /artifacts/3',
      'candidate 3 CANARY 0.2 /artifacts/3',
    ]);
    expect(candidate()).toEqual({ version: '3', role: 'CANARY', trafficShare: 0.2 });
  });

  it('a change of role alone is applied', async () => {
    const { handler, calls, candidate } = serving();
    await handler([plan('1', { modelVersion: '3', role: 'SHADOW', trafficShare: 0 })], context);
    calls.length = 0;
    // A CANARY whose share was missing from its decision replays with share 0 (trafficShareOf).
    await handler([plan('1', { modelVersion: '3', role: 'CANARY', trafficShare: 0 })], context);
    expect(calls).toEqual(['candidate 3 CANARY 0 /artifacts/3']);
    expect(candidate()).toEqual({ version: '3', role: 'CANARY', trafficShare: 0 });
  });

  it('another candidate version is verified and loaded', async () => {
    const { handler, calls } = serving();
    await handler([plan('1', { modelVersion: '3', role: 'CANARY', trafficShare: 0.1 })], context);
    calls.length = 0;
    await handler([plan('1', { modelVersion: '4', role: 'CANARY', trafficShare: 0.1 })], context);
    expect(calls).toEqual(['verify /artifacts/4 44', 'candidate 4 CANARY 0.1 /artifacts/4']);
  });

  it('a plan without candidate retires the running one once', async () => {
    const { handler, calls, candidate } = serving();
    await handler([plan('1', { modelVersion: '3', role: 'SHADOW', trafficShare: 0 })], context);
    calls.length = 0;
    await handler([plan('1', null, { action: 'BLOCK' })], context);
    expect(calls).toEqual(['retire']);
    expect(candidate()).toBeNull();
    await handler([plan('1', null)], context);
    expect(calls).toEqual(['retire']);
  });

  it('promoting the canary swaps production first, then retires the candidate', async () => {
    const { handler, calls, production, candidate } = serving();
    await handler([plan('1', { modelVersion: '3', role: 'CANARY', trafficShare: 0.1 })], context);
    calls.length = 0;
    await handler([plan('3', null)], context);
    expect(calls).toEqual(['verify /artifacts/3 33', 'swap /artifacts/3', 'retire']);
    expect([production(), candidate()]).toEqual(['3', null]);
  });

  it('a plan already in force changes nothing', async () => {
    const { handler, calls } = serving();
    const trial = { modelVersion: '3', role: 'CANARY', trafficShare: 0.1 } as const;
    await handler([plan('1', trial)], context);
    calls.length = 0;
    // A new event (a restart's replay, another reason) of the same plan.
    await handler([plan('1', trial, { reason: 'replayed' })], context);
    await handler([plan('1', { ...trial })], context);
    expect(calls).toEqual([]);
  });

  it('the newest event of a batch wins; older ones are not applied', async () => {
    const { handler, calls, candidate } = serving();
    const older = plan('1', { modelVersion: '3', role: 'SHADOW', trafficShare: 0 });
    const newest = plan('1', { modelVersion: '4', role: 'CANARY', trafficShare: 0.2 });
    await handler([newest, older], context);
    expect(calls).toEqual(['verify /artifacts/4 44', 'candidate 4 CANARY 0.2 /artifacts/4']);
    expect(candidate()).toEqual({ version: '4', role: 'CANARY', trafficShare: 0.2 });
    // Replayed later, the older plan is ignored too.
    await handler([older], context);
    expect(calls).toHaveLength(2);
  });

  it('a refused (unsigned) plan changes neither production nor the candidate', async () => {
    const { handler, calls } = serving();
    const forged = plan(
      '9',
      { modelVersion: '9', role: 'CANARY', trafficShare: 0.9 },
      { signature: null },
    );
    const result = await handler([forged], context);
    expect(result?.rejected?.map((r) => r.event)).toEqual([forged]);
    expect(calls).toEqual([]);
  });
});
