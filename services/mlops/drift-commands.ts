/**
 * `mlops drift status`: the latest drift check per model, version and segment, as a table
 * for people or JSON for machines. Takes its dependencies as arguments.
 */
import { AppError, describeError } from '#platform/common';
import type { DriftStatusQuery, DriftStatusRow } from '#platform/store';
import { noChecksMessage, renderDriftStatus } from './drift-format.ts';
import type { Paint } from './render.ts';

/** `drift_checks` (or its database) is not there: never migrated by a service. */
export class DriftChecksMissingError extends AppError {
  constructor(cause: unknown) {
    super(
      'DRIFT_CHECKS_MISSING',
      `table drift_checks is missing (migrations not applied: start the logger or the drift service, or run npm run mlops -- registry list): ${describeError(cause)}`,
      { cause },
    );
  }
}

export interface DriftStatusDeps {
  readonly readStatus: (query: DriftStatusQuery) => Promise<DriftStatusRow[]>;
  readonly modelName?: string;
  readonly json: boolean;
  readonly paint: Paint;
  readonly now: () => number;
  readonly print: (text: string) => void;
}

const MISSING_TABLE =
  /UNKNOWN_(?:TABLE|DATABASE)|(?:Table|Database) \S+ doesn't exist|Code: (?:60|81)\b/;

export async function runDriftStatus(deps: DriftStatusDeps): Promise<void> {
  let rows: DriftStatusRow[];
  try {
    rows = await deps.readStatus(deps.modelName === undefined ? {} : { modelName: deps.modelName });
  } catch (error) {
    if (MISSING_TABLE.test(describeError(error))) throw new DriftChecksMissingError(error);
    throw error;
  }
  if (deps.json) deps.print(JSON.stringify(rows, null, 2));
  else if (rows.length === 0) deps.print(noChecksMessage(deps.modelName));
  else deps.print(renderDriftStatus(rows, deps.now(), deps.paint));
}
