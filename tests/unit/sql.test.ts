import { describe, expect, it } from 'vitest';
import { identifier, inList, literal, parseMigration, sql } from '#platform/store';

describe('SQL escaping (the only place values become SQL)', () => {
  it('quotes strings, escaping quotes and backslashes', () => {
    expect(literal("it's")).toBe("'it\\'s'");
    expect(literal('back\\slash')).toBe("'back\\\\slash'");
    expect(literal("x'); DROP TABLE predictions; --")).toBe("'x\\'); DROP TABLE predictions; --'");
    expect(sql`SELECT * FROM t WHERE a = ${"o'k"} AND b IN ${[1, 2]} AND c = ${null}`).toBe(
      "SELECT * FROM t WHERE a = 'o\\'k' AND b IN [1, 2] AND c = NULL",
    );
  });

  it('refuses non-finite numbers and unsafe identifiers', () => {
    expect(() => literal(Number.NaN)).toThrow(RangeError);
    expect(inList(['a', "b'c"])).toBe("('a', 'b\\'c')");
    expect(() => inList([])).toThrow(RangeError);
    expect(identifier('predictions_dedup')).toBe('predictions_dedup');
    expect(() => identifier('x; DROP')).toThrow(/unsafe SQL identifier/);
  });
});

describe('migration files', () => {
  it('split into statements without comments, named NNNN_name.sql', () => {
    const migration = parseMigration(
      '0007_views.sql',
      '-- a comment\nCREATE VIEW a AS SELECT 1;\n\nCREATE VIEW b AS SELECT 2;\n',
    );
    expect(migration).toMatchObject({ version: '0007', name: 'views' });
    expect(migration.statements).toEqual([
      'CREATE VIEW a AS SELECT 1',
      'CREATE VIEW b AS SELECT 2',
    ]);
    expect(() => parseMigration('views.sql', '')).toThrow(/0001_name.sql/);
  });
});
