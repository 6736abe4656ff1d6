/**
 * The detector's view of the registry: the production version with its artifact folder
 * (verified against its sha256 once per version) and its stored calibrations; saving a
 * calibration writes a new revision of the version row (thresholds live with the version).
 */
import { artifactFolder, verifyFolder } from '#shared/model';
import type { DriftThresholds } from '#shared/drift';
import { type RegistryStore, productionVersion } from '#shared/store';
import type { ProductionModel } from './detector.ts';

export function registryProduction(
  store: RegistryStore,
  modelName: string,
  baseDir: string,
): () => Promise<ProductionModel | null> {
  const verified = new Set<string>();
  return async () => {
    const version = productionVersion(await store.decisions(modelName));
    if (version === null) return null;
    const record = await store.version(modelName, version);
    if (!record) return null;
    const folder = artifactFolder(record.artifactUri, baseDir);
    if (!verified.has(record.artifactSha256)) {
      await verifyFolder(folder, record.artifactSha256);
      verified.add(record.artifactSha256);
    }
    return { version, folder, calibrations: record.driftCalibration };
  };
}

export function registryCalibrationSaver(
  store: RegistryStore,
  modelName: string,
  now: () => number = Date.now,
): (version: string, key: string, thresholds: DriftThresholds) => Promise<void> {
  return async (version, key, thresholds) => {
    const record = await store.version(modelName, version);
    if (!record) return;
    const { status: _status, ...calibrations } = record.driftCalibration as Record<string, unknown>;
    await store.insertVersion({
      ...record,
      // The registry's one-number summary: the class-conditional cosine threshold.
      driftThreshold: thresholds.cosine.threshold,
      driftCalibration: { ...calibrations, [key]: thresholds },
      revision: Math.max(now(), record.revision + 1),
    });
  };
}
