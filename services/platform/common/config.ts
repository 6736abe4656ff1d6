/**
 * Configuration is parsed once, from an `env` argument (never read from `process.env`
 * deep inside a module), against a schema of typed fields with defaults. Every problem is
 * reported at once in a single ConfigError, and the result is frozen.
 */
import { statSync } from 'node:fs';
import { ConfigError } from './errors.ts';

export interface ConfigField<T> {
  /** Environment variable name. */
  readonly env: string;
  /** One line for the README's configuration table. */
  readonly doc: string;
  /** Used when the variable is unset or empty; a field without default is required. */
  readonly default?: T;
  /** Converts the raw string; throws an Error whose message says what was expected. */
  readonly parse: (raw: string) => T;
  /** Hide the value in `describeConfig` (passwords). */
  readonly secret?: boolean;
}

export type ConfigSchema = Record<string, ConfigField<unknown>>;
export type ConfigOf<S extends ConfigSchema> = {
  readonly [K in keyof S]: S[K] extends ConfigField<infer T> ? T : never;
};
export type Env = Readonly<Record<string, string | undefined>>;

export function parseConfig<S extends ConfigSchema>(schema: S, env: Env): ConfigOf<S> {
  const problems: string[] = [];
  const result: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(schema)) {
    const raw = env[field.env];
    if (raw === undefined || raw.trim() === '') {
      if (field.default === undefined) problems.push(`${field.env} is required (${field.doc})`);
      else result[key] = field.default;
      continue;
    }
    try {
      result[key] = field.parse(raw.trim());
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      const shown = field.secret ? '<secret>' : JSON.stringify(raw);
      problems.push(`${field.env}=${shown}: ${reason}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(result) as ConfigOf<S>;
}

/** Rows for the README configuration table: variable, default, description. */
export function describeConfig(
  schema: ConfigSchema,
): { env: string; default: string; doc: string }[] {
  return Object.values(schema).map((field) => ({
    env: field.env,
    default:
      field.default === undefined
        ? '(required)'
        : field.secret
          ? '(secret)'
          : JSON.stringify(field.default),
    doc: field.doc,
  }));
}

interface FieldOptions<T> {
  default?: T;
  secret?: boolean;
}

export function stringField(
  env: string,
  doc: string,
  options: FieldOptions<string> = {},
): ConfigField<string> {
  return { env, doc, ...options, parse: (raw) => raw };
}

export function intField(
  env: string,
  doc: string,
  options: FieldOptions<number> & { min?: number; max?: number } = {},
): ConfigField<number> {
  const { min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER, ...rest } = options;
  return {
    env,
    doc,
    ...rest,
    parse: (raw) => {
      if (!/^-?\d+$/.test(raw)) throw new Error('expected an integer');
      const value = Number(raw);
      if (value < min || value > max) throw new Error(`expected an integer in [${min}, ${max}]`);
      return value;
    },
  };
}

export function numberField(
  env: string,
  doc: string,
  options: FieldOptions<number> & { min?: number; max?: number } = {},
): ConfigField<number> {
  const { min = -Infinity, max = Infinity, ...rest } = options;
  return {
    env,
    doc,
    ...rest,
    parse: (raw) => {
      const value = Number(raw);
      if (!Number.isFinite(value)) throw new Error('expected a number');
      if (value < min || value > max) throw new Error(`expected a number in [${min}, ${max}]`);
      return value;
    },
  };
}

export function boolField(
  env: string,
  doc: string,
  options: FieldOptions<boolean> = {},
): ConfigField<boolean> {
  return {
    env,
    doc,
    ...options,
    parse: (raw) => {
      const lower = raw.toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(lower)) return true;
      if (['0', 'false', 'no', 'off'].includes(lower)) return false;
      throw new Error('expected true/false');
    },
  };
}

export function enumField<const T extends string>(
  env: string,
  doc: string,
  values: readonly T[],
  options: FieldOptions<T> = {},
): ConfigField<T> {
  return {
    env,
    doc,
    ...options,
    parse: (raw) => {
      if (!(values as readonly string[]).includes(raw)) {
        throw new Error(`expected one of ${values.join(', ')}`);
      }
      return raw as T;
    },
  };
}

/** Comma-separated list of non-empty strings. */
export function listField(
  env: string,
  doc: string,
  options: FieldOptions<string[]> = {},
): ConfigField<string[]> {
  return {
    env,
    doc,
    ...options,
    parse: (raw) => {
      const items = raw.split(',').map((item) => item.trim());
      if (items.some((item) => item === ''))
        throw new Error('expected a comma-separated list without empty items');
      return items;
    },
  };
}

export function urlField(
  env: string,
  doc: string,
  options: FieldOptions<string> = {},
): ConfigField<string> {
  return {
    env,
    doc,
    ...options,
    parse: (raw) => {
      const url = new URL(raw);
      if (url.protocol !== 'http:' && url.protocol !== 'https:')
        throw new Error('expected an http(s) URL');
      return raw.replace(/\/+$/, '');
    },
  };
}

/** Fields every service has: log level and the shutdown grace period. */
export const processConfigFields = {
  logLevel: enumField(
    'LOG_LEVEL',
    'Log level',
    ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const,
    {
      default: 'info',
    },
  ),
  shutdownGraceMs: intField('SHUTDOWN_GRACE_MS', 'Force exit after this long in shutdown', {
    default: 20_000,
    min: 1,
  }),
};

/**
 * What identifies a version of a file cheaply (modification time and size): files re-read on
 * change (API keys, trusted deployment keys) compare it instead of reading the file.
 */
export function fileStamp(path: string): string {
  const stats = statSync(path);
  return `${stats.mtimeMs}:${stats.size}`;
}
