/**
 * The mlops CLI's command line: `mlops <group> <command> [args] [--options]`, parsed into a
 * typed command (pure, unit-tested). Usage errors are `UsageError`s with the usage text.
 */
import { parseArgs } from 'node:util';
import { AppError } from '#platform/common';

/** A command line the CLI cannot run; `helpRequested` when the user asked for --help. */
export class UsageError extends AppError {
  readonly helpRequested: boolean;
  constructor(message: string | null) {
    super('CLI_USAGE', message === null ? USAGE : `${message}\n\n${USAGE}`);
    this.helpRequested = message === null;
  }
}

export const USAGE = `usage: npm run mlops -- <command>

  registry list                         versions of the model, production marked
  registry show <version>               one version: metrics, lineage, artifact, its decisions
  registry log                          the promotion log, oldest first
  registry promote <version> --reason "why"
                                        make <version> production (logged, deployed)
  registry rollback --reason "why" [--to <version>]
                                        back to the previous production version (or <version>)
  registry register <folder> --version <v> [--parent <v>]
                                        store a model folder and register it (golden set scored)
  registry bootstrap                    first start: register + decide the committed model;
                                        later: re-publish production's deployment
  registry sync                         re-publish production's deployment
  retrain --reason "why" [--seed <n>] [--shuffle-labels]
                                        ask the retrainer for a candidate trained on recent
                                        labelled traffic (--shuffle-labels: test hook, trains
                                        on shuffled labels so the promoter must block it)
  drift watch [--from-beginning]        follow drift.events as it happens, one line per event
                                        (until Ctrl-C; from now on, or the whole topic)
  drift status                          the latest drift check per model, version and segment

options: --model <name> (default MODEL_NAME or "sentiment"; for drift commands a filter,
         default every model), --actor <who> (default $USER@cli), --json (machine-readable
         output)`;

export type Command =
  | { readonly kind: 'registry.list' }
  | { readonly kind: 'registry.show'; readonly version: string }
  | { readonly kind: 'registry.log' }
  | { readonly kind: 'registry.promote'; readonly version: string; readonly reason: string }
  | { readonly kind: 'registry.rollback'; readonly reason: string; readonly to?: string }
  | {
      readonly kind: 'registry.register';
      readonly folder: string;
      readonly version: string;
      readonly parent?: string;
    }
  | { readonly kind: 'registry.bootstrap' }
  | { readonly kind: 'registry.sync' }
  | { readonly kind: 'drift.watch'; readonly fromBeginning: boolean }
  | { readonly kind: 'drift.status' }
  | {
      readonly kind: 'retrain';
      readonly reason: string;
      readonly options: Readonly<Record<string, string>>;
    };

export type RegistryCommand = Extract<Command, { readonly kind: `registry.${string}` }>;
export type DriftCommand = Extract<Command, { readonly kind: `drift.${string}` }>;

export interface ParsedCommandLine {
  readonly command: Command;
  readonly model?: string;
  readonly actor?: string;
  readonly json: boolean;
}

function requireReason(reason: string | undefined): string {
  if (reason === undefined || reason.trim() === '') {
    throw new UsageError('--reason "<why>" is required: every production change is explained');
  }
  return reason.trim();
}

export function parseCommandLine(argv: readonly string[]): ParsedCommandLine {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        reason: { type: 'string' },
        to: { type: 'string' },
        version: { type: 'string' },
        parent: { type: 'string' },
        model: { type: 'string' },
        actor: { type: 'string' },
        json: { type: 'boolean', default: false },
        seed: { type: 'string' },
        'shuffle-labels': { type: 'boolean', default: false },
        'from-beginning': { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) throw new UsageError(null);
  const [group, name, ...rest] = positionals;
  const one = (what: string): string => {
    if (rest.length !== 1) throw new UsageError(`${group} ${name} takes one ${what}`);
    return rest[0]!;
  };
  const none = () => {
    if (rest.length > 0) throw new UsageError(`${group} ${name} takes no arguments`);
  };
  let command: Command;
  if (values['from-beginning'] && !(group === 'drift' && name === 'watch')) {
    throw new UsageError('--from-beginning is an option of drift watch only');
  }
  if (group === 'drift') {
    switch (name) {
      case 'watch':
        none();
        command = { kind: 'drift.watch', fromBeginning: values['from-beginning'] ?? false };
        break;
      case 'status':
        none();
        command = { kind: 'drift.status' };
        break;
      default:
        throw new UsageError(`unknown drift command: ${name ?? '(none)'}`);
    }
    return {
      command,
      ...(values.model ? { model: values.model } : {}),
      json: values.json ?? false,
    };
  }
  if (group === 'retrain') {
    if (name !== undefined) throw new UsageError('retrain takes no arguments');
    if (values.seed !== undefined && !/^\d+$/.test(values.seed)) {
      throw new UsageError('--seed must be a non-negative integer');
    }
    return {
      command: {
        kind: 'retrain',
        reason: requireReason(values.reason),
        options: {
          ...(values.seed !== undefined ? { seed: values.seed } : {}),
          ...(values['shuffle-labels'] ? { shuffleLabels: 'true' } : {}),
        },
      },
      ...(values.model ? { model: values.model } : {}),
      ...(values.actor ? { actor: values.actor } : {}),
      json: values.json ?? false,
    };
  }
  if (group !== 'registry') throw new UsageError(`unknown command group: ${group ?? '(none)'}`);
  switch (name) {
    case 'list':
      none();
      command = { kind: 'registry.list' };
      break;
    case 'show':
      command = { kind: 'registry.show', version: one('version') };
      break;
    case 'log':
      none();
      command = { kind: 'registry.log' };
      break;
    case 'promote':
      command = {
        kind: 'registry.promote',
        version: one('version'),
        reason: requireReason(values.reason),
      };
      break;
    case 'rollback':
      none();
      command = {
        kind: 'registry.rollback',
        reason: requireReason(values.reason),
        ...(values.to ? { to: values.to } : {}),
      };
      break;
    case 'register':
      if (!values.version) throw new UsageError('registry register needs --version <v>');
      command = {
        kind: 'registry.register',
        folder: one('model folder'),
        version: values.version,
        ...(values.parent ? { parent: values.parent } : {}),
      };
      break;
    case 'bootstrap':
      none();
      command = { kind: 'registry.bootstrap' };
      break;
    case 'sync':
      none();
      command = { kind: 'registry.sync' };
      break;
    default:
      throw new UsageError(`unknown registry command: ${name ?? '(none)'}`);
  }
  return {
    command,
    ...(values.model ? { model: values.model } : {}),
    ...(values.actor ? { actor: values.actor } : {}),
    json: values.json ?? false,
  };
}
