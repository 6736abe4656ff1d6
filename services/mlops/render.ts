/**
 * Text rendering shared by the mlops commands (pure): aligned tables, UTC timestamps, numbers
 * and ANSI colour that can be switched off.
 */

/** Seconds-precision ISO time in UTC ('2025-01-31T12:00:00Z'). */
export const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** Columns padded to their widest cell (widths count visible characters, not ANSI codes). */
export function renderTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const widths = header.map((title, i) =>
    Math.max(visibleLength(title), ...rows.map((row) => visibleLength(row[i] ?? ''))),
  );
  const line = (cells: readonly string[]) =>
    header
      .map((_, i) => {
        const cell = cells[i] ?? '';
        return cell + ' '.repeat(widths[i]! - visibleLength(cell));
      })
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;

export const visibleLength = (text: string): number => text.replace(ANSI, '').length;

export type Colour = 'red' | 'green' | 'yellow' | 'magenta' | 'bold' | 'dim';

const CODES: Readonly<Record<Colour, readonly [number, number]>> = {
  red: [31, 39],
  green: [32, 39],
  yellow: [33, 39],
  magenta: [35, 39],
  bold: [1, 22],
  dim: [2, 22],
};

/** Paints text when colour is on; the identity otherwise. */
export type Paint = (colour: Colour, text: string) => string;

export function painter(enabled: boolean): Paint {
  return enabled
    ? (colour, text) => `\u001b[${CODES[colour][0]}m${text}\u001b[${CODES[colour][1]}m`
    : (_colour, text) => text;
}

/**
 * Colour on a terminal only: off when the stream is not a TTY or NO_COLOR is set to anything
 * but the empty string (https://no-color.org).
 */
export function colourWanted(
  stream: { readonly isTTY?: boolean },
  env: Readonly<Record<string, string | undefined>>,
): boolean {
  const noColour = env.NO_COLOR;
  return stream.isTTY === true && (noColour === undefined || noColour === '');
}

/** A statistic for people: four significant digits, '-' when absent. */
export function formatNumber(value: number | null | undefined): string {
  if (value === null || value === undefined) return '-';
  if (!Number.isFinite(value)) return String(value);
  if (value === 0) return '0';
  return Math.abs(value) >= 1e-3 && Math.abs(value) < 1e6
    ? value.toPrecision(4)
    : value.toExponential(2);
}

/**
 * The warning a watcher prints instead of a message that could not be decoded (at its broker
 * time): '<time>  WARNING  <topic> partition P offset O skipped, not a readable <what> (<code>: <message>)'.
 */
export function formatSkippedMessage(
  topic: string,
  what: string,
  message: { readonly partition: number; readonly offset: string },
  error: { readonly code?: string; readonly message: string },
  timeMs: number,
): string {
  const code = error.code === undefined ? '' : `${error.code}: `;
  return `${iso(timeMs)}  WARNING  ${topic} partition ${message.partition} offset ${message.offset} skipped, not a readable ${what} (${code}${error.message})`;
}
