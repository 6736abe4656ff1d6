import { describe, expect, it } from 'vitest';
import { USAGE, UsageError, parseCommandLine } from '../../services/mlops/commands.ts';
import { renderTable } from '../../services/mlops/render.ts';

describe('mlops command line', () => {
  it('parses registry commands with their options', () => {
    expect(parseCommandLine(['registry', 'list'])).toEqual({
      command: { kind: 'registry.list' },
      json: false,
    });
    expect(
      parseCommandLine(['registry', 'promote', '7', '--reason', ' better F1 ', '--actor', 'ana']),
    ).toEqual({
      command: { kind: 'registry.promote', version: '7', reason: 'better F1' },
      actor: 'ana',
      json: false,
    });
    expect(
      parseCommandLine(['registry', 'rollback', '--reason', 'x', '--to', '3', '--json']),
    ).toEqual({ command: { kind: 'registry.rollback', reason: 'x', to: '3' }, json: true });
    expect(
      parseCommandLine(['registry', 'register', 'models/x', '--version', '2', '--parent', '1']),
    ).toMatchObject({
      command: { kind: 'registry.register', folder: 'models/x', version: '2', parent: '1' },
    });
  });

  it('parses drift commands: --model filters, --from-beginning for watch only', () => {
    expect(parseCommandLine(['drift', 'status'])).toEqual({
      command: { kind: 'drift.status' },
      json: false,
    });
    expect(parseCommandLine(['drift', 'status', '--model', 'm', '--json'])).toEqual({
      command: { kind: 'drift.status' },
      model: 'm',
      json: true,
    });
    expect(parseCommandLine(['drift', 'watch'])).toEqual({
      command: { kind: 'drift.watch', fromBeginning: false },
      json: false,
    });
    expect(parseCommandLine(['drift', 'watch', '--from-beginning', '--model', 'm'])).toEqual({
      command: { kind: 'drift.watch', fromBeginning: true },
      model: 'm',
      json: false,
    });
  });

  it('parses the live-trial commands: live, shadow, canary, canary-rollback, watch', () => {
    expect(parseCommandLine(['registry', 'live', '--json'])).toEqual({
      command: { kind: 'registry.live' },
      json: true,
    });
    expect(
      parseCommandLine(['registry', 'shadow', '3', '--reason', ' try it ', '--actor', 'ana']),
    ).toEqual({
      command: { kind: 'registry.shadow', version: '3', reason: 'try it' },
      actor: 'ana',
      json: false,
    });
    expect(
      parseCommandLine([
        'registry',
        'canary',
        '3',
        '--share',
        '0.1',
        '--reason',
        'x',
        '--model',
        'm',
      ]),
    ).toEqual({
      command: { kind: 'registry.canary', version: '3', share: 0.1, reason: 'x' },
      model: 'm',
      json: false,
    });
    expect(
      parseCommandLine(['registry', 'canary', '3', '--share=.25', '--reason', 'x']),
    ).toMatchObject({
      command: { share: 0.25 },
    });
    expect(parseCommandLine(['registry', 'canary-rollback', '--reason', 'worse'])).toEqual({
      command: { kind: 'registry.canary-rollback', reason: 'worse' },
      json: false,
    });
    expect(parseCommandLine(['registry', 'watch'])).toEqual({
      command: { kind: 'registry.watch', fromBeginning: false },
      json: false,
    });
    expect(parseCommandLine(['registry', 'watch', '--from-beginning', '--json'])).toEqual({
      command: { kind: 'registry.watch', fromBeginning: true },
      json: true,
    });
  });

  it('takes a canary share strictly between 0 and 1, written as a decimal', () => {
    const share = (value: string) => () =>
      parseCommandLine(['registry', 'canary', '3', `--share=${value}`, '--reason', 'x']);
    for (const good of ['0.5', '0.999', '.05']) expect(share(good)).not.toThrow();
    for (const bad of ['0', '0.0', '1', '1.0', '1.5', '-0.1', '10%', '1/10', '1e-1', 'abc', '']) {
      expect(share(bad), bad).toThrow(UsageError);
      expect(share(bad), bad).toThrow(/--share must be a decimal number between 0 and 1/);
    }
    expect(() => parseCommandLine(['registry', 'canary', '3', '--reason', 'x'])).toThrow(
      /registry canary needs --share/,
    );
    expect(() =>
      parseCommandLine(['registry', 'shadow', '3', '--share', '0.1', '--reason', 'x']),
    ).toThrow(/--share is an option of registry canary only/);
  });

  it('requires a reason for every production change', () => {
    expect(() => parseCommandLine(['registry', 'promote', '2'])).toThrow(/--reason/);
    expect(() => parseCommandLine(['registry', 'rollback', '--reason', '   '])).toThrow(/--reason/);
    for (const argv of [
      ['registry', 'shadow', '3'],
      ['registry', 'canary', '3', '--share', '0.1'],
      ['registry', 'canary-rollback', '--reason', ''],
    ]) {
      expect(() => parseCommandLine(argv), argv.join(' ')).toThrow(/--reason/);
    }
  });

  it('lists every command in the help text', () => {
    const commands = USAGE.split('\n')
      .map((line) => /^ {2}((?:registry|drift) [a-z-]+|retrain)\b/.exec(line)?.[1])
      .filter((name) => name !== undefined);
    expect(commands).toEqual([
      'registry list',
      'registry show',
      'registry log',
      'registry promote',
      'registry rollback',
      'registry register',
      'registry bootstrap',
      'registry sync',
      'registry live',
      'registry shadow',
      'registry canary',
      'registry canary-rollback',
      'registry watch',
      'retrain',
      'drift watch',
      'drift status',
    ]);
    // Each listed command parses (with the arguments and options it needs).
    const needs: Record<string, string[]> = {
      'registry show': ['1'],
      'registry promote': ['1', '--reason', 'r'],
      'registry rollback': ['--reason', 'r'],
      'registry register': ['folder', '--version', '2'],
      'registry shadow': ['1', '--reason', 'r'],
      'registry canary': ['1', '--share', '0.1', '--reason', 'r'],
      'registry canary-rollback': ['--reason', 'r'],
      retrain: ['--reason', 'r'],
    };
    for (const name of commands) {
      expect(
        () => parseCommandLine([...name.split(' '), ...(needs[name] ?? [])]),
        name,
      ).not.toThrow();
    }
  });

  it('refuses unknown commands, missing and extra arguments, unknown options', () => {
    for (const argv of [
      [],
      ['registry'],
      ['registry', 'destroy'],
      ['drift', 'list'],
      ['registry', 'show'],
      ['registry', 'list', 'extra'],
      ['registry', 'register', 'folder'],
      ['registry', 'list', '--force'],
      ['drift'],
      ['drift', 'watch', 'extra'],
      ['drift', 'status', '--from-beginning'],
      ['registry', 'list', '--from-beginning'],
      ['registry', 'live', '--from-beginning'],
      ['registry', 'live', 'extra'],
      ['registry', 'watch', 'extra'],
      ['registry', 'shadow', '--reason', 'x'],
      ['registry', 'shadow', '3', '4', '--reason', 'x'],
      ['registry', 'canary', '--share', '0.1', '--reason', 'x'],
      ['registry', 'canary-rollback', '3', '--reason', 'x'],
    ]) {
      expect(() => parseCommandLine(argv), argv.join(' ')).toThrow(UsageError);
    }
    const help = (() => {
      try {
        parseCommandLine(['--help']);
      } catch (error) {
        return error as UsageError;
      }
      return undefined;
    })();
    expect(help?.helpRequested).toBe(true);
  });

  it('renders aligned tables', () => {
    expect(
      renderTable(
        ['A', 'BB'],
        [
          ['xxx', 'y'],
          ['z', ''],
        ],
      ),
    ).toBe('A    BB\nxxx  y\nz');
  });

  it('aligns cells by their visible width, ignoring ANSI colour codes', () => {
    const red = '\u001b[31mab\u001b[39m';
    expect(renderTable(['X', 'Y'], [[red, '1']])).toBe(`X   Y\n${red}  1`);
  });
});
