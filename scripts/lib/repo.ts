/**
 * The repository's root, for development scripts (benchmarks, experiments, model tools),
 * which run from the sources and read the repository's data, models and state folders.
 * Services never use it: they run from the build and take their paths from config.
 */
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
