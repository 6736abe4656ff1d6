/**
 * Signatures of serving plans: the candidate (version, role, share, artifact) is covered by
 * the registry's signature, and a deployment without a candidate covers exactly the ten
 * fields it covered before the candidate existed, so signatures made then still verify.
 */
import { createPrivateKey, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  type Deployment,
  type DeploymentCandidate,
  DeploymentSignatureError,
  DeploymentSigner,
  DeploymentVerifier,
  generateDeploymentKeyPair,
  signedPayload,
} from '#platform/serde';

const registryKeys = generateDeploymentKeyPair();
const signer = new DeploymentSigner(registryKeys.privateKeyPem);
const verifier = DeploymentVerifier.fromPem(registryKeys.publicKeyPem);

const CANDIDATE: DeploymentCandidate = {
  modelVersion: '3',
  role: 'CANARY',
  trafficShare: 0.1,
  artifactUri: 'file:///artifacts/3',
  artifactSha256: 'cd'.repeat(32),
};

let clock = 1_000;
function fields(candidate: DeploymentCandidate | null): Omit<Deployment, 'signature'> {
  clock += 1_000;
  return {
    eventId: `00000000-0000-4000-8000-${String(clock).padStart(12, '0')}`,
    eventTime: clock,
    modelName: 'sentiment',
    modelVersion: '2',
    previousVersion: '2',
    action: candidate ? candidate.role : 'PROMOTE',
    artifactUri: 'file:///artifacts/2',
    artifactSha256: 'ab'.repeat(32),
    actor: 'promoter',
    reason: 'live trial',
    candidate,
  };
}

function reasonOf(deployment: Deployment): string {
  try {
    verifier.verify(deployment);
    return 'valid';
  } catch (error) {
    expect(error).toBeInstanceOf(DeploymentSignatureError);
    return (error as DeploymentSignatureError).reason;
  }
}

/** How the registry signed before the candidate field: the ten fields, nothing else. */
function signedBeforeCandidates(deployment: Omit<Deployment, 'signature' | 'candidate'>): string {
  const payload = Buffer.from(
    JSON.stringify([
      deployment.eventId,
      deployment.eventTime,
      deployment.modelName,
      deployment.modelVersion,
      deployment.previousVersion,
      deployment.action,
      deployment.artifactUri,
      deployment.artifactSha256,
      deployment.actor,
      deployment.reason,
    ]),
    'utf8',
  );
  const bytes = sign(null, payload, createPrivateKey(registryKeys.privateKeyPem));
  return `ed25519:${signer.keyId}:${bytes.toString('base64')}`;
}

describe('serving plan signatures', () => {
  it('a signed deployment with a candidate verifies', () => {
    expect(reasonOf(signer.sign(fields(CANDIDATE)))).toBe('valid');
    expect(reasonOf(signer.sign(fields({ ...CANDIDATE, role: 'SHADOW', trafficShare: 0 })))).toBe(
      'valid',
    );
  });

  it('altering any field of the candidate breaks the signature', () => {
    const signed = signer.sign(fields(CANDIDATE));
    const changes: Partial<DeploymentCandidate>[] = [
      { modelVersion: '4' },
      { role: 'SHADOW' },
      { trafficShare: 0.5 },
      { trafficShare: 0.1000001 },
      { artifactUri: 'file:///artifacts/evil' },
      { artifactSha256: 'ef'.repeat(32) },
    ];
    for (const change of changes) {
      const altered = { ...signed, candidate: { ...CANDIDATE, ...change } };
      expect(reasonOf(altered), JSON.stringify(change)).toBe('invalid');
    }
  });

  it('removing the candidate of a signed plan, or adding one to a signed plan, breaks it', () => {
    const withCandidate = signer.sign(fields(CANDIDATE));
    expect(reasonOf({ ...withCandidate, candidate: null })).toBe('invalid');
    const without = signer.sign(fields(null));
    expect(reasonOf(without)).toBe('valid');
    expect(reasonOf({ ...without, candidate: CANDIDATE })).toBe('invalid');
  });

  it('a deployment without candidate signed before the field existed still verifies', () => {
    const { candidate: _none, ...old } = fields(null);
    const signature = signedBeforeCandidates(old);
    // Decoded with the new schema: the candidate defaults to null.
    expect(reasonOf({ ...old, candidate: null, signature })).toBe('valid');
    // An object from code older than the field (no candidate property at all).
    expect(reasonOf({ ...old, signature } as Deployment)).toBe('valid');
    // And the registry signs candidate-less plans exactly as it did then.
    expect(signedPayload({ ...old, candidate: null }).toString('utf8')).toBe(
      JSON.stringify([
        old.eventId,
        old.eventTime,
        old.modelName,
        old.modelVersion,
        old.previousVersion,
        old.action,
        old.artifactUri,
        old.artifactSha256,
        old.actor,
        old.reason,
      ]),
    );
    // The old signature still covers every old field.
    expect(reasonOf({ ...old, candidate: null, reason: 'changed', signature })).toBe('invalid');
  });
});
