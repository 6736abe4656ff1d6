/**
 * One writer of the registry's tables: `model_versions` (and `promotion_log`) are written only
 * by services/platform/store/registry.ts, and its writing methods are called only by the
 * registry layer (services/domain/registry/), so every change of a version row is decided
 * in one place. (The drift service once saved thresholds with a read-modify-write of the
 * version row beside the registry's status changes: a lost update either way.)
 *
 * The scan reads the product's source (services/, scripts/, infra/: TypeScript and JavaScript
 * through the TypeScript parser, so comments do not count and template literals do; SQL and
 * shell files as text) and reports
 *   - SQL that writes `model_versions` (INSERT INTO [TABLE] [db.]model_versions, ALTER TABLE
 *     ... UPDATE/DELETE, DELETE FROM, TRUNCATE), with or without quotes or a database;
 *   - the table's bare name as a string (`client.insert({ table: 'model_versions' })`, a
 *     constant naming it, a row-binary insert helper's argument);
 *   - a call of `insertVersion` / `appendDecision` (RegistryStore's writers);
 * outside the modules allowed to. Tests are not scanned: their fixtures write test databases.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TABLE = 'model_versions';
/** The one module that may name the table in a write. */
const STORE_MODULE = 'services/platform/store/registry.ts';
/** The only callers of the store's writing methods. */
const REGISTRY_LAYER = 'services/domain/registry/';
const STORE_WRITERS = new Set(['insertVersion', 'appendDecision']);
const ROOTS = ['services', 'scripts', 'infra'];
const SKIP_DIRS = new Set(['node_modules', 'dist', 'build', '.cache']);

// `model_versions`, `db.model_versions`, quoted or not (template placeholders read as `x`).
const Q = '[`"]?';
const TABLE_REF = `${Q}(?:[\\w$]+${Q}\\.${Q})?${TABLE}${Q}(?![\\w])`;
const SQL_WRITES = [
  new RegExp(`\\binsert\\s+into\\s+(?:table\\s+)?${TABLE_REF}`, 'i'),
  new RegExp(`\\balter\\s+table\\s+${TABLE_REF}[^;]*?\\b(?:update|delete)\\b`, 'i'),
  new RegExp(`\\bdelete\\s+from\\s+${TABLE_REF}`, 'i'),
  new RegExp(`\\btruncate\\s+(?:table\\s+)?(?:if\\s+exists\\s+)?${TABLE_REF}`, 'i'),
  new RegExp(`\\b(?:exchange|rename)\\s+tables?\\b[^;]*\\b${TABLE}\\b`, 'i'),
];
const BARE_TABLE = new RegExp(`^\\s*${TABLE_REF}\\s*$`);

interface Finding {
  readonly file: string;
  readonly line: number;
  readonly what: string;
}

interface Allowances {
  /** May name the table in a write (the store module). */
  readonly tableWrites: boolean;
  /** May call the store's writing methods (the registry layer, the store itself). */
  readonly storeWrites: boolean;
}

function allowancesOf(file: string): Allowances {
  return {
    tableWrites: file === STORE_MODULE,
    storeWrites: file === STORE_MODULE || file.startsWith(REGISTRY_LAYER),
  };
}

function sqlFindings(text: string): string[] {
  return SQL_WRITES.filter((pattern) => pattern.test(text)).map(
    (pattern) => `SQL writes ${TABLE}: ${pattern.exec(text)![0].replace(/\s+/g, ' ')}`,
  );
}

/** The text of a string-like literal, `${...}` parts as `x`; null for other nodes. */
function literalText(node: ts.Node): string | null {
  if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) return node.text;
  if (ts.isTemplateExpression(node)) {
    return node.head.text + node.templateSpans.map((span) => `x${span.literal.text}`).join('');
  }
  return null;
}

function scanScript(file: string, text: string, allow: Allowances): Finding[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const findings: Finding[] = [];
  const add = (node: ts.Node, what: string) =>
    findings.push({
      file,
      line: source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1,
      what,
    });
  const visit = (node: ts.Node): void => {
    const literal = literalText(node);
    if (literal !== null && !allow.tableWrites) {
      for (const what of sqlFindings(literal)) add(node, what);
      if (BARE_TABLE.test(literal)) add(node, `names the table ${TABLE} as a value`);
    }
    if (ts.isIdentifier(node) && STORE_WRITERS.has(node.text) && !allow.storeWrites) {
      add(node, `uses RegistryStore.${node.text} outside the registry layer`);
    }
    // Template spans are visited through their expression: literalText covers the whole.
    if (!ts.isTemplateExpression(node)) ts.forEachChild(node, visit);
    else node.templateSpans.forEach((span) => visit(span.expression));
  };
  visit(source);
  return findings;
}

function scanText(file: string, text: string, allow: Allowances): Finding[] {
  if (allow.tableWrites) return [];
  const comment = file.endsWith('.sql') ? /^\s*--/ : /^\s*#/;
  const code = text
    .split('\n')
    .map((line) => (comment.test(line) ? '' : line))
    .join('\n');
  return code
    .split(';')
    .flatMap((statement) => sqlFindings(statement))
    .map((what) => ({ file, line: 0, what }));
}

function scanFile(file: string, text: string): Finding[] {
  // Nothing to find in a file that names neither the table nor a writer (most of them):
  // parse only the others.
  const lower = text.toLowerCase();
  if (!lower.includes(TABLE) && ![...STORE_WRITERS].some((name) => text.includes(name))) {
    return [];
  }
  const allow = allowancesOf(file);
  if (/\.(?:[cm]?[jt]s)$/.test(file)) return scanScript(file, text, allow);
  return scanText(file, text, allow);
}

function sourceFiles(): string[] {
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) {
        if (!SKIP_DIRS.has(entry.name)) walk(join(dir, entry.name));
      } else if (/\.(?:[cm]?[jt]s|sql|sh)$/.test(entry.name) && !entry.name.endsWith('.d.ts')) {
        files.push(relative(REPO_ROOT, join(dir, entry.name)).split(sep).join('/'));
      }
    }
  };
  for (const root of ROOTS) walk(join(REPO_ROOT, root));
  return files;
}

const NOWHERE: Allowances = { tableWrites: false, storeWrites: false };

describe(`one writer of ${TABLE}`, () => {
  it('no module but the registry store writes the table, and only the registry layer calls it', () => {
    const files = sourceFiles();
    // The scan reaches the code it is about.
    expect(files).toContain(STORE_MODULE);
    expect(files).toContain('services/drift/adapters.ts');
    expect(files).toContain('infra/clickhouse/migrations/0003_registry_and_drift.sql');
    const findings = files.flatMap((file) =>
      scanFile(file, readFileSync(join(REPO_ROOT, file), 'utf8')),
    );
    expect(findings).toEqual([]);
  });

  it("finds the store's own writes when it is not allowed to (the scan sees the real forms)", () => {
    const text = readFileSync(join(REPO_ROOT, STORE_MODULE), 'utf8');
    const found = scanScript(STORE_MODULE, text, NOWHERE).map((f) => f.what);
    expect(found).toContain(`names the table ${TABLE} as a value`);
    expect(found).toContain('uses RegistryStore.insertVersion outside the registry layer');
  });

  it.each([
    ["await client.insert({ table: 'model_versions', values: rows, format: 'JSONEachRow' });"],
    ['await client.insert({\n  format: "JSONEachRow",\n  table:\n    `model_versions`,\n});'],
    ['await client.insert({ table: `${database}.model_versions`, values });'],
    ["const TARGET = 'sentiment.model_versions'; await client.insert({ table: TARGET });"],
    ["await insertRowBinary(client, 'model_versions', columns, rows);"],
    ["await client.command({ query: 'INSERT INTO model_versions FORMAT JSONEachRow' });"],
    ['await client.exec({ query: `insert into ${db}.model_versions (version) values (1)` });'],
    ['const q = `INSERT INTO TABLE "model_versions" SELECT * FROM staging`;'],
    ["const q = 'ALTER TABLE sentiment.model_versions UPDATE status = 1 WHERE 1';"],
    ["const q = 'ALTER TABLE `model_versions` DELETE WHERE version = 2';"],
    ["const q = 'DELETE FROM model_versions WHERE 1';"],
    ["const q = 'TRUNCATE TABLE IF EXISTS model_versions';"],
    ['await store.insertVersion({ ...record, driftCalibration: {} });'],
    ['const { insertVersion } = store; await insertVersion(record);'],
    ['await this.deps.store.appendDecision(entry);'],
  ])('flags a second writer: %s', (code) => {
    expect(scanScript('services/drift/probe.ts', code, NOWHERE)).not.toEqual([]);
  });

  it.each([
    ["const q = `SELECT version FROM model_versions WHERE model_name = 'm'`;"],
    ['const q = `SELECT * FROM ${db}.model_versions_latest`;'],
    ["await client.insert({ table: 'drift_checks', values: rows });"],
    ["const q = 'INSERT INTO model_versions_backup SELECT * FROM model_versions';"],
    ['// await store.insertVersion(record) once lived here; INSERT INTO model_versions'],
    ['/* client.insert({ table: "model_versions" }) */ const x = 1;'],
    ['const version = await store.version(modelName, v);'],
  ])('leaves a reader alone: %s', (code) => {
    expect(scanScript('services/drift/probe.ts', code, NOWHERE)).toEqual([]);
  });

  it('reads SQL and shell files as text, without their comments', () => {
    expect(
      scanText('infra/x.sql', 'SELECT 1;\nINSERT INTO sentiment.model_versions VALUES', NOWHERE),
    ).not.toEqual([]);
    expect(
      scanText(
        'infra/x.sh',
        'clickhouse-client -q "insert into model_versions format TSV"',
        NOWHERE,
      ),
    ).not.toEqual([]);
    expect(
      scanText(
        'infra/x.sql',
        '-- INSERT INTO model_versions\nCREATE TABLE model_versions (a UInt8);',
        NOWHERE,
      ),
    ).toEqual([]);
  });

  it('lets the registry layer call the store, and only the store name the table', () => {
    expect(allowancesOf('services/domain/registry/model-registry.ts')).toEqual({
      tableWrites: false,
      storeWrites: true,
    });
    expect(allowancesOf(STORE_MODULE)).toEqual({ tableWrites: true, storeWrites: true });
    expect(allowancesOf('services/drift/adapters.ts')).toEqual(NOWHERE);
  });
});
