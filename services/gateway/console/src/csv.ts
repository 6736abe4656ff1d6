/**
 * CSV in and out for batch scoring: reads a file with a header row (papaparse, delimiter
 * detected), checks it, and writes predictions.csv. Row numbers are 1-based data rows (the
 * header is not counted; blank lines are skipped).
 */
import Papa from 'papaparse';
import type { Label } from './types.ts';

export const MAX_ROWS = 10_000;
/** Files larger than this are refused before parsing (10,000 long reviews fit easily). */
export const MAX_FILE_BYTES = 64 * 1024 * 1024;
/** Column names taken as the text column when present (case-insensitive), first match wins. */
const TEXT_COLUMNS = ['text', 'review'];

export class CsvError extends Error {
  override name = 'CsvError';
}

export interface ParsedCsv {
  fields: string[];
  rows: Record<string, string | undefined>[];
  /** The column to score unless the user picks another: text or review when present. */
  defaultColumn: string | null;
}

const count = (value: number) => value.toLocaleString('en-US');

export function parseCsvText(text: string): ParsedCsv {
  if (text.replace(/^\uFEFF/, '').trim() === '') throw new CsvError('the file is empty');
  const parsed = Papa.parse<Record<string, string | undefined>>(text, {
    header: true,
    skipEmptyLines: true,
    transformHeader: (header) => header.replace(/^\uFEFF/, '').trim(),
  });
  const fields = parsed.meta.fields ?? [];
  if (fields.length === 0) throw new CsvError('the file has no header row');
  const blank = fields.findIndex((field) => field === '');
  if (blank !== -1) {
    throw new CsvError(
      `the first row must be a header row naming every column, but column ${blank + 1} has no name`,
    );
  }
  const renamed = (parsed.meta as { renamedHeaders?: Record<string, string> | null })
    .renamedHeaders;
  if (renamed) {
    const twice = [...new Set(Object.values(renamed))];
    throw new CsvError(`the header row names ${twice.map((name) => `'${name}'`).join(', ')} twice`);
  }
  const problem = parsed.errors.find((error) => error.code !== 'UndetectableDelimiter');
  if (problem) {
    // Papaparse counts quote errors' rows from the header (row 0), other errors' from the
    // first data row.
    const row =
      problem.row === undefined ? undefined : problem.row + (problem.type === 'Quotes' ? 0 : 1);
    const where = row === undefined ? 'the file' : row === 0 ? 'the header row' : `row ${row}`;
    throw new CsvError(`${where}: ${problem.message}`);
  }
  const rows = parsed.data;
  if (rows.length === 0) throw new CsvError('the file has a header row but no data rows');
  if (rows.length > MAX_ROWS) {
    throw new CsvError(
      `the file has ${count(rows.length)} rows; the limit is ${count(MAX_ROWS)} rows per file`,
    );
  }
  const lower = fields.map((field) => field.toLowerCase());
  const match = TEXT_COLUMNS.map((name) => lower.indexOf(name)).find((index) => index !== -1);
  return { fields, rows, defaultColumn: match === undefined ? null : (fields[match] ?? null) };
}

export async function parseCsvFile(file: File): Promise<ParsedCsv> {
  if (file.size > MAX_FILE_BYTES) {
    throw new CsvError(
      `the file is ${count(Math.round(file.size / 1024 / 1024))} MB; the limit is ${MAX_FILE_BYTES / 1024 / 1024} MB`,
    );
  }
  return parseCsvText(await file.text());
}

/** The texts of `column`, in row order; throws naming the first row whose text is empty. */
export function textsOf(csv: ParsedCsv, column: string): string[] {
  if (!csv.fields.includes(column)) {
    throw new CsvError(
      `column '${column}' is not in the header (columns: ${csv.fields.map((field) => `'${field}'`).join(', ')})`,
    );
  }
  return csv.rows.map((row, index) => {
    const text = row[column];
    if (text === undefined || text.trim() === '') {
      throw new CsvError(`row ${index + 1}: column '${column}' is empty`);
    }
    return text;
  });
}

export interface ScoredRow {
  /** 1-based data row of the input file. */
  row: number;
  text: string;
  label: Label;
  confidence: number;
  positiveProbability: number;
  truncated: boolean;
  modelVersion: string;
}

export const OUTPUT_COLUMNS = [
  'row',
  'text',
  'label',
  'confidence',
  'positive_probability',
  'truncated',
  'model_version',
] as const;

/**
 * predictions.csv: one line per row, in the input's row order, fields quoted where needed,
 * formula-like cells escaped (below).
 */
export function predictionsCsv(rows: readonly ScoredRow[]): string {
  const ordered = [...rows].sort((a, b) => a.row - b.row);
  return Papa.unparse(
    {
      fields: [...OUTPUT_COLUMNS],
      data: ordered.map((row) => [
        row.row,
        row.text,
        row.label,
        row.confidence,
        row.positiveProbability,
        row.truncated,
        row.modelVersion,
      ]),
    },
    // A cell starting with = + - @ (or a tab or CR) gets a leading ' so a spreadsheet shows
    // the review instead of running it as a formula (CSV injection); the table shows the text.
    { newline: '\r\n', escapeFormulae: true },
  );
}
