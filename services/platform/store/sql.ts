/**
 * The one place where values become SQL text. ClickHouse 18.16 has no server-side query
 * parameters, so values are escaped here and nowhere else; queries never concatenate raw
 * input.
 */
export type SqlValue = string | number | boolean | null | readonly SqlValue[];

/** Quotes a value as a ClickHouse literal. */
export function literal(value: SqlValue): string {
  if (value === null) return 'NULL';
  if (typeof value === 'boolean') return value ? '1' : '0';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new RangeError(`cannot write ${value} as a SQL literal`);
    return String(value);
  }
  if (Array.isArray(value)) return `[${value.map(literal).join(', ')}]`;
  return `'${(value as string).replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** An identifier (table, column, database) from a fixed set of safe characters only. */
export function identifier(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
    throw new RangeError(`unsafe SQL identifier: ${name}`);
  return name;
}

/** Tagged template: `sql\`SELECT * FROM t WHERE id = ${id}\`` with every value escaped. */
export function sql(strings: TemplateStringsArray, ...values: SqlValue[]): string {
  return strings.reduce(
    (text, part, index) => text + part + (index < values.length ? literal(values[index]!) : ''),
    '',
  );
}

/** A parenthesised value list for `IN (...)` (an array literal would compare as one Array). */
export function inList(values: readonly SqlValue[]): string {
  if (values.length === 0) throw new RangeError('IN list must not be empty');
  return `(${values.map(literal).join(', ')})`;
}
