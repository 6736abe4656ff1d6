/**
 * The local stack's deployment signing key pair (infra/local-stack.sh up):
 *
 *   node --import tsx scripts/deployment-keys.ts <secrets folder> [--rotate]
 *
 * Writes `deployment-signing.key` (Ed25519 PKCS#8 PEM, mode 0600: the registry's key, read by
 * the promoter and the mlops CLI) and `deployment-trusted.pub` (the public keys the gateway and
 * inference trust) when they do not exist; an existing pair is kept. `--rotate` makes a new
 * signing key and appends its public key to the trusted file (serving processes re-read it),
 * keeping the old one trusted until it is removed by hand: docs/security.md "Rotation".
 */
import { appendFileSync, chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DeploymentSigner, generateDeploymentKeyPair } from '#platform/serde';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { rotate: { type: 'boolean', default: false } },
});
if (positionals.length !== 1) {
  console.error('usage: deployment-keys.ts <secrets folder> [--rotate]');
  process.exit(2);
}
const folder = resolve(positionals[0]!);
const signingKey = join(folder, 'deployment-signing.key');
const trusted = join(folder, 'deployment-trusted.pub');
mkdirSync(folder, { recursive: true, mode: 0o700 });
if (existsSync(signingKey) && existsSync(trusted) && !values.rotate) {
  console.log(`deployment signing key ${DeploymentSigner.fromFile(signingKey).keyId} (kept)`);
} else {
  const pair = generateDeploymentKeyPair();
  // Trust first, then sign: a deployment signed by the new key is never seen before its key.
  if (values.rotate && existsSync(trusted)) appendFileSync(trusted, pair.publicKeyPem);
  else writeFileSync(trusted, pair.publicKeyPem);
  writeFileSync(signingKey, pair.privateKeyPem, { mode: 0o600 });
  chmodSync(signingKey, 0o600);
  console.log(`deployment signing key ${DeploymentSigner.fromFile(signingKey).keyId} (new)`);
}
