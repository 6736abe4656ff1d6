/**
 * The example queries of docs/analysts.md, read from the guide itself so a newly documented
 * query is covered by every test that runs them (analyst access, current-ClickHouse parity).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './stack.ts';

export interface NamedQuery {
  readonly title: string;
  readonly sql: string;
}

/** Every ```sql block of docs/analysts.md with the `### ` heading above it, without its `;`. */
export function documentedQueries(): NamedQuery[] {
  const text = readFileSync(join(REPO_ROOT, 'docs/analysts.md'), 'utf8');
  const queries: NamedQuery[] = [];
  let title = '';
  for (const match of text.matchAll(/^### (.+)$|^```sql\n([\s\S]*?)^```$/gm)) {
    if (match[1] !== undefined) title = match[1].trim();
    else queries.push({ title, sql: match[2]!.trim().replace(/;$/, '') });
  }
  return queries;
}
