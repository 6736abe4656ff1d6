/**
 * Content-addressed artifact store: every model version's folder is kept under
 * `<root>/<sha256>/`, where the sha256 is the folder digest (below). The address is the
 * content, so an artifact is immutable, a second copy of the same files is free, and a
 * loader can tell a damaged or substituted folder from the registered one.
 *
 * Folder digest: sha256 over the sorted relative paths of every regular file, each followed
 * by NUL, its own sha256 (hex) and a newline. It depends on names and bytes only (not on
 * timestamps or the root's location), so it is reproducible on any machine.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { cp, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { AppError } from '#platform/common';

export class ArtifactIntegrityError extends AppError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('ARTIFACT_INTEGRITY', message, options);
  }
}

export class ArtifactNotFoundError extends AppError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('ARTIFACT_NOT_FOUND', message, options);
  }
}

const SHA256 = /^[0-9a-f]{64}$/;

async function fileDigest(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function listFiles(folder: string, base = folder): Promise<string[]> {
  const entries = await readdir(folder, { withFileTypes: true });
  const files: string[] = [];
  for (const entry of entries) {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) files.push(...(await listFiles(path, base)));
    else if (entry.isFile()) files.push(relative(base, path).split(sep).join('/'));
  }
  return files;
}

/** The folder digest defined above. */
export async function folderDigest(folder: string): Promise<string> {
  let files: string[];
  try {
    files = (await listFiles(resolve(folder))).sort();
  } catch (error) {
    throw new ArtifactNotFoundError(`cannot read model folder ${folder}`, { cause: error });
  }
  if (files.length === 0) throw new ArtifactNotFoundError(`model folder ${folder} is empty`);
  const hash = createHash('sha256');
  for (const file of files) {
    hash.update(`${file}\u0000${await fileDigest(join(folder, file))}\n`);
  }
  return hash.digest('hex');
}

/** Throws ArtifactIntegrityError unless the folder's digest is `expectedSha256`. */
export async function verifyFolder(folder: string, expectedSha256: string): Promise<void> {
  const actual = await folderDigest(folder);
  if (actual !== expectedSha256) {
    throw new ArtifactIntegrityError(
      `model folder ${folder} has digest ${actual}, expected ${expectedSha256}: refusing to load it`,
    );
  }
}

export interface StoredArtifact {
  readonly sha256: string;
  /** `file://` URI of the stored folder (what registry rows and deployments carry). */
  readonly uri: string;
  readonly folder: string;
}

export class ArtifactStore {
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  folderOf(sha256: string): string {
    if (!SHA256.test(sha256)) throw new RangeError(`not a sha256: ${sha256}`);
    return join(this.root, sha256);
  }

  uriOf(sha256: string): string {
    return pathToFileURL(this.folderOf(sha256)).href;
  }

  /**
   * Copies a model folder into the store (no-op when the same content is there already) and
   * returns its address. The copy goes to a temporary name first and is renamed into place,
   * so a crash never leaves a half-written folder under a valid address.
   */
  async put(folder: string): Promise<StoredArtifact> {
    const sha256 = await folderDigest(folder);
    const target = this.folderOf(sha256);
    if (!(await this.exists(sha256))) {
      await mkdir(this.root, { recursive: true });
      const staging = join(this.root, `.staging-${randomUUID()}`);
      try {
        await cp(resolve(folder), staging, { recursive: true });
        await verifyFolder(staging, sha256);
        await rename(staging, target).catch(async (error: NodeJS.ErrnoException) => {
          // Another writer stored the same content meanwhile: theirs is as good as ours.
          if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error;
        });
      } finally {
        await rm(staging, { recursive: true, force: true });
      }
    }
    return { sha256, uri: this.uriOf(sha256), folder: target };
  }

  /** The stored folder of `sha256`, verified against its address before it is handed out. */
  async open(sha256: string): Promise<string> {
    const folder = this.folderOf(sha256);
    if (!(await this.exists(sha256))) {
      throw new ArtifactNotFoundError(`artifact ${sha256} is not in ${this.root}`);
    }
    await verifyFolder(folder, sha256);
    return folder;
  }

  private async exists(sha256: string): Promise<boolean> {
    return stat(this.folderOf(sha256)).then(
      (info) => info.isDirectory(),
      () => false,
    );
  }
}

/** Artifact URI -> local folder: `file://` URIs and paths (relative ones against `baseDir`). */
export function artifactFolder(uri: string, baseDir: string): string {
  if (uri.startsWith('file://')) return fileURLToPath(uri);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(uri)) {
    throw new ArtifactNotFoundError(`unsupported artifact URI ${uri} (file:// or a path)`);
  }
  return isAbsolute(uri) ? uri : resolve(baseDir, uri);
}
