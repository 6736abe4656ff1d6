/** shared/training builds on common, model and drift only (eslint.config.js); the rule must fire. */
import { resolve } from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/stack.ts';

const eslint = new ESLint({ cwd: REPO_ROOT });
const PROBE = 'services/shared/src/training/probe.ts';

async function restricted(source: string): Promise<string[]> {
  const [result] = await eslint.lintText(source, { filePath: resolve(REPO_ROOT, PROBE) });
  return (result?.messages ?? [])
    .filter((message) => message.ruleId === 'no-restricted-imports')
    .map((message) => message.message);
}

describe('shared/training layering (eslint)', () => {
  it.each([
    "import '#shared/store';",
    "import '#shared/kafka';",
    "import '#shared/registry';",
    "import '../model/engine.ts';",
  ])('may not %s', async (source) => {
    expect(await restricted(source)).not.toEqual([]);
  });

  it.each(["import '#shared/common';", "import '#shared/model';", "import '#shared/drift';"])(
    'may %s',
    async (source) => {
      expect(await restricted(source)).toEqual([]);
    },
  );
});
