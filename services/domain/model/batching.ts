/**
 * Pure helpers for length-bucketed batching: texts are grouped by token length so each batch
 * is padded only to its own longest text (not to the model's maximum), which is where most
 * of the compute of a padded transformer batch would otherwise go.
 */

export interface EncodedBatch {
  readonly inputIds: BigInt64Array;
  readonly attentionMask: BigInt64Array;
  readonly batchSize: number;
  readonly sequenceLength: number;
}

/**
 * Truncates one tokenised text (with [CLS] ... [SEP]) to `maxLength`, keeping the final
 * separator, as Hugging Face truncation does for a single sequence.
 */
export function truncateIds(
  ids: readonly number[],
  maxLength: number,
  sepId: number,
): { ids: number[]; truncated: boolean } {
  if (ids.length <= maxLength) return { ids: [...ids], truncated: false };
  return { ids: [...ids.slice(0, maxLength - 1), sepId], truncated: true };
}

/** Pads token id lists to the longest among them; mask 1 for tokens, 0 for padding. */
export function padBatch(idLists: readonly (readonly number[])[], padId: number): EncodedBatch {
  const sequenceLength = Math.max(1, ...idLists.map((ids) => ids.length));
  const batchSize = idLists.length;
  const inputIds = new BigInt64Array(batchSize * sequenceLength).fill(BigInt(padId));
  const attentionMask = new BigInt64Array(batchSize * sequenceLength);
  idLists.forEach((ids, row) => {
    ids.forEach((id, column) => {
      inputIds[row * sequenceLength + column] = BigInt(id);
      attentionMask[row * sequenceLength + column] = 1n;
    });
  });
  return { inputIds, attentionMask, batchSize, sequenceLength };
}

/**
 * Indices of the texts grouped into batches, texts of similar length together (stable order
 * within equal lengths). A batch holds at most `maxBatchSize` texts and, when `maxBatchTokens`
 * is given, at most that many padded tokens (texts x its longest text): long texts go in
 * smaller batches, whose latency stays near that of a batch of short ones, and whose memory
 * (attention grows with length squared) stays bounded.
 */
export function bucketByLength(
  lengths: readonly number[],
  maxBatchSize: number,
  maxBatchTokens = Infinity,
): number[][] {
  const order = lengths.map((length, index) => ({ length, index }));
  order.sort((a, b) => a.length - b.length || a.index - b.index);
  const buckets: number[][] = [];
  let current: number[] = [];
  for (const { length, index } of order) {
    // Sorted ascending: this text is the longest of the batch it joins.
    if (
      current.length > 0 &&
      (current.length >= maxBatchSize || (current.length + 1) * length > maxBatchTokens)
    ) {
      buckets.push(current);
      current = [];
    }
    current.push(index);
  }
  if (current.length > 0) buckets.push(current);
  return buckets;
}

export function softmax(logits: ArrayLike<number>): number[] {
  const values = Array.from(logits);
  const max = Math.max(...values);
  const exps = values.map((value) => Math.exp(value - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((value) => value / sum);
}

export function argmax(values: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < values.length; i++)
    if ((values[i] ?? -Infinity) > (values[best] ?? -Infinity)) best = i;
  return best;
}
