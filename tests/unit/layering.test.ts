/**
 * The code layout's import rules are enforced by eslint (eslint.config.js, README "Code
 * layout"); these cases make sure the rules really fire (a '#shared/...' entry in a
 * gitignore-style pattern once was a silent comment) and do not forbid what the layout allows.
 */
import { resolve } from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/stack.ts';

const eslint = new ESLint({ cwd: REPO_ROOT });

async function restricted(file: string, source: string): Promise<string[]> {
  const [result] = await eslint.lintText(source, { filePath: resolve(REPO_ROOT, file) });
  return (result?.messages ?? [])
    .filter((message) => message.ruleId === 'no-restricted-imports')
    .map((message) => message.message);
}

describe('code layout (eslint)', () => {
  it.each([
    // platform layers: only lower layers, never the domain, only through entry points
    ['services/platform/store/probe.ts', "import '#platform/kafka';"],
    ['services/platform/common/probe.ts', "import '#platform/serde';"],
    ['services/platform/kafka/probe.ts', "import '#domain/registry';"],
    ['services/platform/runner/probe.ts', "import '#domain/model';"],
    ['services/platform/store/probe.ts', "import '../common/errors.ts';"],
    // domain parts: the platform layers and domain parts they list
    ['services/domain/model/probe.ts', "import '#platform/serde';"],
    ['services/domain/drift/probe.ts', "import '#domain/model';"],
    ['services/domain/drift/probe.ts', "import '#platform/store';"],
    ['services/domain/scoring/probe.ts', "import '#domain/registry';"],
    ['services/domain/model/probe.ts', "import '../drift/prng.ts';"],
    // services: not each other, shared code through entry points
    ['services/inference/probe.ts', "import '../gateway/app.ts';"],
    ['services/inference/probe.ts', "import '../platform/store/sql.ts';"],
    ['services/promoter/probe.ts', "import '../retrainer/training/index.ts';"],
    // the retrainer's training library: common, model and drift only
    ['services/retrainer/training/probe.ts', "import '#platform/store';"],
    ['services/retrainer/training/probe.ts', "import '#platform/kafka';"],
    ['services/retrainer/training/probe.ts', "import '#domain/registry';"],
    ['services/retrainer/training/probe.ts', "import '../train-task.ts';"],
    // tests and tools: entry points only
    ['tests/unit/probe.ts', "import '../../services/platform/store/sql.ts';"],
    ['tests/unit/probe.ts', "import '../../services/domain/drift/statistics.ts';"],
    ['scripts/probe.ts', "import '../services/retrainer/training/head-trainer.ts';"],
  ])('%s may not %s', async (file, source) => {
    expect(await restricted(file, source)).not.toEqual([]);
  });

  it.each([
    ['services/platform/kafka/probe.ts', "import '#platform/store';"],
    ['services/platform/runner/probe.ts', "import '#platform/common';"],
    ['services/domain/registry/probe.ts', "import '#platform/kafka';"],
    ['services/domain/registry/probe.ts', "import '#domain/drift';"],
    ['services/domain/scoring/probe.ts', "import '#domain/model';"],
    ['services/domain/model/probe.ts', "import '#platform/common';"],
    ['services/domain/model/probe.ts', "import './engine.ts';"],
    ['services/inference/probe.ts', "import '#platform/runner';"],
    ['services/inference/probe.ts', "import '#domain/scoring';"],
    ['services/retrainer/probe.ts', "import './training/index.ts';"],
    ['services/retrainer/training/probe.ts', "import '#platform/common';"],
    ['services/retrainer/training/probe.ts', "import '#domain/model';"],
    ['services/retrainer/training/probe.ts', "import '#domain/drift';"],
    ['tests/unit/probe.ts', "import '#domain/drift';"],
    ['tests/unit/probe.ts', "import '../../services/retrainer/training/index.ts';"],
  ])('%s may %s', async (file, source) => {
    expect(await restricted(file, source)).toEqual([]);
  });
});
