/** Display formats shared by the pages (English, the reader's local time zone). */

const clock = new Intl.DateTimeFormat('en-GB', {
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
});
const dateTime = new Intl.DateTimeFormat('en-GB', {
  year: 'numeric',
  month: 'short',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
});

const hourMinute = new Intl.DateTimeFormat('en-GB', { hour: '2-digit', minute: '2-digit' });
const shortDateTime = new Intl.DateTimeFormat('en-GB', {
  month: 'short',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
});

export function formatHourMinute(ms: number): string {
  return Number.isFinite(ms) ? hourMinute.format(ms) : '';
}

/** Day, month and time to the minute: for tables where space is short. */
export function formatShortDateTime(ms: number): string {
  return Number.isFinite(ms) ? shortDateTime.format(ms) : '—';
}

export function formatClock(ms: number): string {
  return Number.isFinite(ms) ? clock.format(ms) : '';
}

export function formatDateTime(ms: number): string {
  return Number.isFinite(ms) ? dateTime.format(ms) : '—';
}

export function formatNumber(value: number, digits = 3): string {
  if (!Number.isFinite(value)) return '—';
  return value.toLocaleString('en-US', { maximumFractionDigits: digits });
}

/** A figure with `digits` decimals, never "-0.000" (as the gates' reasons write them). */
export function formatFixed(value: number, digits = 3): string {
  if (!Number.isFinite(value)) return '—';
  const text = value.toFixed(digits);
  return /^-0\.?0*$/.test(text) ? text.slice(1) : text;
}

/** A difference with its sign: "+0.012", "-0.004", "0.000". */
export function formatSigned(value: number, digits = 3): string {
  const text = formatFixed(value, digits);
  return text === '—' || text.startsWith('-') || Number(text) === 0 ? text : `+${text}`;
}

export function formatInteger(value: number): string {
  return Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : '—';
}

export function formatPercent(value: number, digits = 1): string {
  return Number.isFinite(value) ? `${(value * 100).toFixed(digits)}%` : '—';
}

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '—';
  const minutes = Math.round(ms / 60_000);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ${minutes % 60} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}
