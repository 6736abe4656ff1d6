import { describe, expect, it } from 'vitest';
import { UsageError, parseCommandLine } from '../../services/mlops/commands.ts';
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

  it('requires a reason for every production change', () => {
    expect(() => parseCommandLine(['registry', 'promote', '2'])).toThrow(/--reason/);
    expect(() => parseCommandLine(['registry', 'rollback', '--reason', '   '])).toThrow(/--reason/);
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
