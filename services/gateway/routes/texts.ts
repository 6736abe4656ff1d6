/**
 * The rule every text the gateway accepts follows: the one inference applies
 * (#domain/scoring checkText), so what is accepted here can be scored there. JSON schemas
 * bound the count; this checks each text's content and UTF-8 size.
 */
import { checkText } from '#domain/scoring';
import { badRequest } from './errors.ts';

export interface TextLimits {
  /** Texts per /v1/predict request (and reviews per /v1/reviews request). */
  readonly maxTexts: number;
  /** UTF-8 bytes per text. */
  readonly maxTextBytes: number;
}

/** Throws a 400 naming the first text that breaks the rule (`<path>[<index>]: <why>`). */
export function checkTexts(texts: readonly string[], maxTextBytes: number, path: string): void {
  texts.forEach((text, index) => {
    const problem = checkText(text, maxTextBytes);
    if (problem) throw badRequest(`${path}[${index}]: ${problem.message}`, problem.code);
  });
}
