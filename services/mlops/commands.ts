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
  registry live                         the serving plan and, while a candidate is in SHADOW or
                                        CANARY, its live figures and the gate's verdict (gate
                                        settings SHADOW_*, LIVE_GATE_*, CANARY_* from this
                                        environment: the promoter decides with its own)
  registry shadow <version> --reason "why"
                                        score live traffic with <version> beside production,
                                        never serving its answers (logged, deployed)
  registry canary <version> --share <s> --reason "why"
                                        <version> answers the share <s> (0 < s < 1, e.g. 0.1)
                                        of traffic beside production, from SHADOW or with no
                                        candidate (logged, deployed)
  registry canary-rollback --reason "why"
                                        take the canary out of its share, production
                                        unchanged (logged, deployed)
  registry watch [--from-beginning]     follow models.deployments for the model, one line per
                                        plan change (until Ctrl-C; from now on, or the whole
                                        compacted topic)
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
  | { readonly kind: 'registry.live' }
  | { readonly kind: 'registry.shadow'; readonly version: string; readonly reason: string }
  | {
      readonly kind: 'registry.canary';
      readonly version: string;
      /** In (0, 1). */
      readonly share: number;
      readonly reason: string;
    }
  | { readonly kind: 'registry.canary-rollback'; readonly reason: string }
  | { readonly kind: 'registry.watch'; readonly fromBeginning: boolean }
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

/**
 * A canary's traffic share from `--share`: a decimal number strictly between 0 and 1 ('0.1',
 * '.25'); a percentage or a fraction is refused rather than guessed at.
 */
export function parseShare(text: string | undefined): number {
  if (text === undefined) {
    throw new UsageError('registry canary needs --share <s>, the share of traffic in (0, 1)');
  }
  const share = Number(text);
  if (!/^(?:0|0?\.\d+|0\.\d*)$/.test(text.trim()) || !(share > 0 && share < 1)) {
    throw new UsageError(
      `--share must be a decimal number between 0 and 1 (exclusive), e.g. 0.1; got ${JSON.stringify(text)}`,
    );
  }
  return share;
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
        share: { type: 'string' },
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
  if (
    values['from-beginning'] &&
    !((group === 'drift' || group === 'registry') && name === 'watch')
  ) {
    throw new UsageError('--from-beginning is an option of drift watch and registry watch only');
  }
  if (values.share !== undefined && !(group === 'registry' && name === 'canary')) {
    throw new UsageError('--share is an option of registry canary only');
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
    case 'live':
      none();
      command = { kind: 'registry.live' };
      break;
    case 'shadow':
      command = {
        kind: 'registry.shadow',
        version: one('version'),
        reason: requireReason(values.reason),
      };
      break;
    case 'canary':
      command = {
        kind: 'registry.canary',
        version: one('version'),
        share: parseShare(values.share),
        reason: requireReason(values.reason),
      };
      break;
    case 'canary-rollback':
      none();
      command = { kind: 'registry.canary-rollback', reason: requireReason(values.reason) };
      break;
    case 'watch':
      none();
      command = { kind: 'registry.watch', fromBeginning: values['from-beginning'] ?? false };
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
