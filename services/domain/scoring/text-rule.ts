/**
 * The one rule for what text the model scores, shared by both prediction paths: the gateway
 * answers 400 with the code and message (`/v1/predict`, `/v1/reviews`), inference dead-letters
 * a review from Kafka with them. So whatever the gateway accepts, inference can score.
 *
 * Refused, in this order:
 *   TEXT_EMPTY                  empty or whitespace only
 *   TEXT_INVALID_UTF8           a U+FFFD (what a UTF-8 decoder puts where bytes were not
 *                               UTF-8) or a lone UTF-16 surrogate (not encodable as UTF-8)
 *   TEXT_NO_VISIBLE_CHARACTERS  only invisible characters: zero-width and other format
 *                               characters (\p{Cf}), controls, combining marks, fillers
 *   TEXT_TOO_LONG               over `maxBytes` UTF-8 bytes
 * Texts longer than the model's token limit are not refused: the runtime truncates them and
 * flags `truncated`.
 */
import { InvalidMessageError } from '#platform/common';

const REPLACEMENT_CHARACTER = '\uFFFD';
/** A high surrogate not followed by a low one, or a low one not preceded by a high one. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * A character someone can see: not whitespace, not a format or control character, not a
 * combining mark on its own, not one of the Hangul fillers that render as nothing.
 */
const VISIBLE = /[^\p{White_Space}\p{Cf}\p{Cc}\p{M}\u115F\u1160\u3164\uFFA0]/u;

export function checkText(text: string, maxBytes: number): InvalidMessageError | undefined {
  if (text.trim() === '')
    return new InvalidMessageError('TEXT_EMPTY', 'text is empty or whitespace only');
  if (text.includes(REPLACEMENT_CHARACTER)) {
    return new InvalidMessageError(
      'TEXT_INVALID_UTF8',
      'text is not valid UTF-8 (it holds U+FFFD, the replacement character)',
    );
  }
  if (LONE_SURROGATE.test(text)) {
    return new InvalidMessageError(
      'TEXT_INVALID_UTF8',
      'text holds a lone UTF-16 surrogate, which has no UTF-8 encoding',
    );
  }
  if (!VISIBLE.test(text)) {
    return new InvalidMessageError(
      'TEXT_NO_VISIBLE_CHARACTERS',
      'text has no visible character (only zero-width, format or control characters)',
    );
  }
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > maxBytes) {
    return new InvalidMessageError(
      'TEXT_TOO_LONG',
      `text is ${bytes} bytes, over the limit of ${maxBytes}`,
    );
  }
  return undefined;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * A review event from Kafka: `checkText` on its text, after its identity fields (the gateway
 * makes these itself; other producers must too): a UUID `eventId` (REVIEW_EVENT_ID_INVALID),
 * non-blank `reviewId` (REVIEW_ID_EMPTY) and `source` (REVIEW_SOURCE_EMPTY).
 */
export function checkReview(
  review: {
    readonly eventId: string;
    readonly reviewId: string;
    readonly source: string;
    readonly text: string;
  },
  maxBytes: number,
): InvalidMessageError | undefined {
  if (!UUID.test(review.eventId)) {
    return new InvalidMessageError(
      'REVIEW_EVENT_ID_INVALID',
      `eventId ${JSON.stringify(review.eventId.slice(0, 64))} is not a UUID`,
    );
  }
  if (review.reviewId.trim() === '') {
    return new InvalidMessageError('REVIEW_ID_EMPTY', 'reviewId is empty or whitespace only');
  }
  if (review.source.trim() === '') {
    return new InvalidMessageError('REVIEW_SOURCE_EMPTY', 'source is empty or whitespace only');
  }
  return checkText(review.text, maxBytes);
}
