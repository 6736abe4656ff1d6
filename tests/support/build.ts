/**
 * The compiled build the integration tests run services from, as production does: plain
 * `node` on `services/<name>/main.js` (scripts/build.ts), in a folder OUTSIDE the repository
 * and with that folder as working directory. A service that reads the source tree (a path
 * computed from its own location, a relative default that only resolves in the repository)
 * fails there, so the whole integration suite is the test that runtime paths come from
 * config and the assets shipped with the build.
 *
 * One build per test stack (its path derives from the stack folder), made by the global
 * setup; node_modules is linked in, as the image installs it beside the build.
 */
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { localKafkaPasswordFile } from '#platform/kafka';
import { REPO_ROOT, TEST_STACK_ENV } from './stack.ts';

export const TEST_BUILD_DIR =
  process.env.TEST_BUILD_DIR ??
  join(
    tmpdir(),
    `sentiment-mlops-build-${createHash('sha256').update(TEST_STACK_ENV.STACK_DIR).digest('hex').slice(0, 12)}`,
  );

/** Entry points that run from the build, and the Kafka principal each connects as. */
const BUILT_ENTRIES: readonly { source: RegExp; principal: (match: RegExpMatchArray) => string }[] =
  [
    { source: /^services\/([a-z]+)\/main\.ts$/, principal: (match) => match[1]! },
    { source: /^services\/mlops\/cli\.ts$/, principal: () => 'mlops' },
    { source: /^infra\/schema-registry\/main\.ts$/, principal: () => 'schema-registry' },
  ];

export interface ProcessCommand {
  readonly args: string[];
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
}

/**
 * How to run `script` (a path relative to the repository): a service, the CLI or the schema
 * registry from the build, connecting to Kafka as its own principal (unless `env` names
 * one), the way infra/local-stack.sh starts them; anything else (test fixtures) from the
 * sources through tsx.
 */
export function processCommand(script: string, env: NodeJS.ProcessEnv): ProcessCommand {
  for (const entry of BUILT_ENTRIES) {
    const match = script.match(entry.source);
    if (!match) continue;
    const principal = env.KAFKA_USERNAME || entry.principal(match);
    return {
      args: [join(TEST_BUILD_DIR, script.replace(/\.ts$/, '.js'))],
      cwd: TEST_BUILD_DIR,
      env: {
        ...env,
        KAFKA_USERNAME: principal,
        KAFKA_PASSWORD_FILE:
          env.KAFKA_PASSWORD_FILE || localKafkaPasswordFile(TEST_STACK_ENV.STACK_DIR, principal),
      },
    };
  }
  return { args: ['--import', 'tsx', resolve(REPO_ROOT, script)], cwd: REPO_ROOT, env };
}
