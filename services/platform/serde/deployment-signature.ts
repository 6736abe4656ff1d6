/**
 * Deployment events are trusted only when the registry signed them.
 *
 * Anyone who can write to `models.deployments` could otherwise make every serving process
 * load a model of their choosing: the event names the artifact and its digest, so a checksum
 * alone only proves the event agrees with itself. The registry (the only writer of
 * production changes) signs each event with its Ed25519 key; the gateway and inference load a
 * deployment only if its signature verifies against a key they trust, so the artifact digest
 * they check the folder against is the registry's.
 *
 * Wire form: `signature` = `ed25519:<keyId>:<base64 signature>`, over the canonical payload:
 * the JSON array of every other field in schema order (see `signedPayload`), so adding a field
 * to the schema never changes what an old signature covered without changing this module.
 * `keyId` is the first 16 hex digits of the sha256 of the public key (SPKI DER); it selects
 * the trusted key and lets a verifier hold the old and the new key during a rotation.
 *
 * Rotation: add the new public key to the trusted-keys file (the verifier re-reads it when it
 * changes, no restart), switch the registry's signing key, then remove the old public key.
 */
import {
  type KeyObject,
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
} from 'node:crypto';
import { readFileSync } from 'node:fs';
import { AppError, fileStamp } from '#platform/common';
import type { Deployment } from './events.generated.ts';

const SCHEME = 'ed25519';

/** A deployment that is unsigned, signed by an unknown key, or altered after signing. */
export class DeploymentSignatureError extends AppError {
  /** Stable reason, for metrics and logs: unsigned | malformed | unknown_key | invalid. */
  readonly reason: 'unsigned' | 'malformed' | 'unknown_key' | 'invalid';
  constructor(reason: DeploymentSignatureError['reason'], message: string) {
    // Not retriable: a forged event stays forged; the runner dead-letters it.
    super('DEPLOYMENT_SIGNATURE_INVALID', message);
    this.reason = reason;
  }
}

/** A key file is missing, unreadable or holds no key of the expected kind. */
export class DeploymentKeyError extends AppError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('DEPLOYMENT_KEY_INVALID', message, options);
  }
}

/**
 * The bytes a signature covers: every field but `signature`, in schema order. The candidate
 * (its fields in schema order) is appended only when there is one, so a deployment without a
 * candidate covers exactly what it covered before the field existed, and old signatures verify.
 */
export function signedPayload(deployment: Omit<Deployment, 'signature'>): Buffer {
  const candidate = deployment.candidate ?? null;
  return Buffer.from(
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
      ...(candidate === null
        ? []
        : [
            [
              candidate.modelVersion,
              candidate.role,
              candidate.trafficShare,
              candidate.artifactUri,
              candidate.artifactSha256,
            ],
          ]),
    ]),
    'utf8',
  );
}

/** First 16 hex digits of sha256(SPKI DER) of a public key. */
export function keyIdOf(publicKey: KeyObject): string {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('hex').slice(0, 16);
}

function requireEd25519(key: KeyObject, what: string): KeyObject {
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new DeploymentKeyError(`${what} is a ${key.asymmetricKeyType} key, expected ed25519`);
  }
  return key;
}

/** Signs deployments with the registry's private key. */
export class DeploymentSigner {
  readonly keyId: string;
  readonly #key: KeyObject;

  constructor(privateKeyPem: string) {
    let key: KeyObject;
    try {
      key = createPrivateKey(privateKeyPem);
    } catch (error) {
      throw new DeploymentKeyError('the deployment signing key is not a PEM private key', {
        cause: error,
      });
    }
    this.#key = requireEd25519(key, 'the deployment signing key');
    this.keyId = keyIdOf(createPublicKey(this.#key));
  }

  static fromFile(path: string): DeploymentSigner {
    return new DeploymentSigner(readKeyFile(path, 'deployment signing key'));
  }

  sign(deployment: Omit<Deployment, 'signature'>): Deployment {
    const signature = sign(null, signedPayload(deployment), this.#key).toString('base64');
    return { ...deployment, signature: `${SCHEME}:${this.keyId}:${signature}` };
  }
}

/** Parses one or more PEM public keys (concatenated) into a map keyId -> key. */
export function parseTrustedKeys(pem: string): Map<string, KeyObject> {
  const blocks = pem.match(/-----BEGIN PUBLIC KEY-----[\s\S]+?-----END PUBLIC KEY-----/g) ?? [];
  if (blocks.length === 0) {
    throw new DeploymentKeyError('the trusted deployment keys hold no PEM public key');
  }
  const keys = new Map<string, KeyObject>();
  for (const block of blocks) {
    let key: KeyObject;
    try {
      key = createPublicKey(block);
    } catch (error) {
      throw new DeploymentKeyError('a trusted deployment key is not a valid public key', {
        cause: error,
      });
    }
    requireEd25519(key, 'a trusted deployment key');
    keys.set(keyIdOf(key), key);
  }
  return keys;
}

/**
 * Verifies deployments against the trusted public keys. Built from a file, it re-reads the
 * file when its modification time or size changes (rotation without a restart); a file that
 * becomes unreadable keeps the keys last read and the error is thrown to the caller.
 */
export class DeploymentVerifier {
  #keys: Map<string, KeyObject>;
  readonly #reload: () => Map<string, KeyObject> | undefined;

  private constructor(
    keys: Map<string, KeyObject>,
    reload: () => Map<string, KeyObject> | undefined,
  ) {
    this.#keys = keys;
    this.#reload = reload;
  }

  static fromPem(pem: string): DeploymentVerifier {
    return new DeploymentVerifier(parseTrustedKeys(pem), () => undefined);
  }

  static fromFile(path: string): DeploymentVerifier {
    const stamp = () => fileStamp(path);
    let seen = stamp();
    const initial = parseTrustedKeys(readKeyFile(path, 'trusted deployment keys'));
    return new DeploymentVerifier(initial, () => {
      const now = stamp();
      if (now === seen) return undefined;
      const keys = parseTrustedKeys(readKeyFile(path, 'trusted deployment keys'));
      seen = now;
      return keys;
    });
  }

  /** Key ids currently trusted. */
  get keyIds(): readonly string[] {
    return [...this.#keys.keys()];
  }

  /** Throws DeploymentSignatureError unless a trusted key signed exactly this deployment. */
  verify(deployment: Deployment): void {
    const reloaded = this.#reload();
    if (reloaded) this.#keys = reloaded;
    const { signature } = deployment;
    if (signature === null || signature === '') {
      throw new DeploymentSignatureError(
        'unsigned',
        `deployment ${deployment.eventId} of ${deployment.modelName} ${deployment.modelVersion} is not signed`,
      );
    }
    const parts = signature.split(':');
    if (parts.length !== 3 || parts[0] !== SCHEME || !/^[0-9a-f]{16}$/.test(parts[1]!)) {
      throw new DeploymentSignatureError(
        'malformed',
        `deployment ${deployment.eventId}: signature is not '${SCHEME}:<keyId>:<base64>'`,
      );
    }
    const key = this.#keys.get(parts[1]!);
    if (!key) {
      throw new DeploymentSignatureError(
        'unknown_key',
        `deployment ${deployment.eventId}: signed by key ${parts[1]}, which is not trusted`,
      );
    }
    const { signature: _omit, ...fields } = deployment;
    const valid = verify(null, signedPayload(fields), key, Buffer.from(parts[2]!, 'base64'));
    if (!valid) {
      throw new DeploymentSignatureError(
        'invalid',
        `deployment ${deployment.eventId} of ${deployment.modelName} ${deployment.modelVersion}: ` +
          'the signature does not match its fields (altered or forged)',
      );
    }
  }
}

/** A new key pair in PEM (PKCS#8 private, SPKI public): the local stack's and tests' keys. */
export function generateDeploymentKeyPair(): { privateKeyPem: string; publicKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

function readKeyFile(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new DeploymentKeyError(`cannot read the ${what} at ${path}`, { cause: error });
  }
}
