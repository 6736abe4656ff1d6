/**
 * What makes a review's text scoreable. A review that fails is dead-lettered with the code;
 * texts longer than the model's token limit are not rejected here: they are truncated and
 * flagged by the model runtime.
 */
import { InvalidMessageError } from '#shared/common';

/** The replacement character avsc (and any UTF-8 decoder) puts where bytes were not UTF-8. */
const REPLACEMENT_CHARACTER = '\uFFFD';

export function checkReviewText(text: string, maxBytes: number): InvalidMessageError | undefined {
  if (text.trim() === '')
    return new InvalidMessageError('TEXT_EMPTY', 'review text is empty or whitespace only');
  if (text.includes(REPLACEMENT_CHARACTER)) {
    return new InvalidMessageError(
      'TEXT_INVALID_UTF8',
      'review text is not valid UTF-8 (it decodes with U+FFFD)',
    );
  }
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > maxBytes) {
    return new InvalidMessageError(
      'TEXT_TOO_LONG',
      `review text is ${bytes} bytes, over the limit of ${maxBytes}`,
    );
  }
  return undefined;
}
