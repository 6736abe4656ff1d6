/**
 * Embedding matrices and windows: plain row-major typed arrays, so that a window read from
 * ClickHouse, a reference sample read from a float32 file and a resample are the same shape
 * and nothing is copied row by row.
 */

/** `rows` x `dim` embeddings, row-major: row r is data[r * dim, (r + 1) * dim). */
export interface EmbeddingMatrix {
  readonly rows: number;
  readonly dim: number;
  readonly data: Float32Array | Float64Array;
}

/** Embeddings with the model's predicted class index of each row. */
export interface EmbeddingWindow {
  readonly embeddings: EmbeddingMatrix;
  /** Predicted class index per row (0 = NEGATIVE, 1 = POSITIVE for the sentiment model). */
  readonly predicted: ArrayLike<number>;
}

/** Wraps a flat row-major array; throws a RangeError when its length is not a multiple of dim. */
export function embeddingMatrix(data: Float32Array | Float64Array, dim: number): EmbeddingMatrix {
  if (!Number.isInteger(dim) || dim <= 0) throw new RangeError(`dim must be > 0, got ${dim}`);
  if (data.length % dim !== 0) {
    throw new RangeError(`array of ${data.length} values is not a multiple of dim ${dim}`);
  }
  return { rows: data.length / dim, dim, data };
}

/** Builds a matrix from row vectors (all of the same length). */
export function matrixFromRows(rows: readonly ArrayLike<number>[], dim?: number): EmbeddingMatrix {
  const width = dim ?? rows[0]?.length ?? 0;
  const data = new Float64Array(rows.length * width);
  rows.forEach((row, r) => {
    if (row.length !== width) {
      throw new RangeError(`row ${r} has ${row.length} values, expected ${width}`);
    }
    for (let j = 0; j < width; j++) data[r * width + j] = row[j]!;
  });
  return { rows: rows.length, dim: width, data };
}

/** The rows `indices` of a matrix (copied, same element type). */
export function selectRows(matrix: EmbeddingMatrix, indices: ArrayLike<number>): EmbeddingMatrix {
  const { dim } = matrix;
  const data =
    matrix.data instanceof Float32Array
      ? new Float32Array(indices.length * dim)
      : new Float64Array(indices.length * dim);
  for (let i = 0; i < indices.length; i++) {
    const r = indices[i]!;
    data.set(matrix.data.subarray(r * dim, (r + 1) * dim), i * dim);
  }
  return { rows: indices.length, dim, data };
}

/** The rows `indices` of a window (embeddings and predicted classes). */
export function selectWindow(window: EmbeddingWindow, indices: ArrayLike<number>): EmbeddingWindow {
  const predicted = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) predicted[i] = window.predicted[indices[i]!]!;
  return { embeddings: selectRows(window.embeddings, indices), predicted };
}

/** Rows of `parts` stacked in order (Float64). */
export function concatWindows(parts: readonly EmbeddingWindow[]): EmbeddingWindow {
  const dim = parts[0]?.embeddings.dim ?? 0;
  const rows = parts.reduce((sum, part) => sum + part.embeddings.rows, 0);
  const data = new Float64Array(rows * dim);
  const predicted = new Int32Array(rows);
  let offset = 0;
  for (const part of parts) {
    if (part.embeddings.dim !== dim) throw new RangeError('windows of different dimensions');
    data.set(part.embeddings.data, offset * dim);
    for (let i = 0; i < part.embeddings.rows; i++) predicted[offset + i] = part.predicted[i]!;
    offset += part.embeddings.rows;
  }
  return { embeddings: { rows, dim, data }, predicted };
}
