/**
 * The shared library's layering is enforced by eslint (eslint.config.js); these cases make
 * sure the rules really fire (a '#shared/...' entry in a gitignore-style pattern once was a
 * silent comment).
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

describe('shared library layering (eslint)', () => {
  it.each([
    ['services/shared/src/store/probe.ts', "import '#shared/kafka';"],
    ['services/shared/src/common/probe.ts', "import '#shared/serde';"],
    ['services/shared/src/kafka/probe.ts', "import '#shared/registry';"],
    ['services/shared/src/store/probe.ts', "import '../common/errors.ts';"],
    ['services/shared/src/model/probe.ts', "import '#shared/serde';"],
    ['services/shared/src/drift/probe.ts', "import '#shared/model';"],
    ['services/inference/probe.ts', "import '../gateway/app.ts';"],
    ['services/inference/probe.ts', "import '../shared/src/store/sql.ts';"],
    ['tests/unit/probe.ts', "import '../../services/shared/src/store/sql.ts';"],
  ])('%s may not %s', async (file, source) => {
    expect(await restricted(file, source)).not.toEqual([]);
  });

  it.each([
    ['services/shared/src/kafka/probe.ts', "import '#shared/store';"],
    ['services/shared/src/registry/probe.ts', "import '#shared/kafka';"],
    ['services/shared/src/model/probe.ts', "import '#shared/common';"],
    ['services/inference/probe.ts', "import '#shared/runner';"],
  ])('%s may %s', async (file, source) => {
    expect(await restricted(file, source)).toEqual([]);
  });
});
