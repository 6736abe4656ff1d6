/**
 * Where the logger's rows go: RowBinary chunks gathered by an InsertBatcher into inserts of
 * `predictions`. Tracks whether ClickHouse is available (the last insert succeeded, or failed
 * for a reason other than an outage), for /ready and the availability gauge.
 */
import { PREDICTION_COLUMNS, type RowBinaryInserter } from '#platform/store';
import { InsertBatcher } from './insert-batcher.ts';

export interface PredictionStoreDeps {
  readonly inserter: RowBinaryInserter;
  readonly maxRows: number;
  /** True for an outage (retry later) rather than a refusal of the data. */
  readonly isTransient: (error: unknown) => boolean;
  readonly onAvailability?: (available: boolean) => void;
}

export interface PredictionStore {
  /** Stores `rows` rows encoded in RowBinary; resolves once they are durable. */
  store(chunk: Buffer, rows: number): Promise<void>;
  /** Resolves once every queued insert is done. */
  flush(): Promise<void>;
  readonly available: boolean;
}

export function createPredictionStore(deps: PredictionStoreDeps): PredictionStore {
  let available = true;
  const setAvailable = (value: boolean) => {
    available = value;
    deps.onAvailability?.(value);
  };
  const batcher = new InsertBatcher<Buffer>({
    maxRows: deps.maxRows,
    insert: async (chunks) => {
      try {
        await deps.inserter.insert('predictions', PREDICTION_COLUMNS, chunks);
      } catch (error) {
        if (deps.isTransient(error)) setAvailable(false);
        throw error;
      }
      setAvailable(true);
    },
    isolate: (error) => !deps.isTransient(error),
  });
  return {
    store: (chunk, rows) => batcher.add(chunk, rows),
    flush: () => batcher.flush(),
    get available() {
      return available;
    },
  };
}
