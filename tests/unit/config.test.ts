import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  boolField,
  describeConfig,
  enumField,
  intField,
  listField,
  parseConfig,
  stringField,
  urlField,
} from '#platform/common';

const schema = {
  brokers: listField('KAFKA_BROKERS', 'Kafka bootstrap servers'),
  port: intField('PORT', 'HTTP port', { default: 8080, min: 1, max: 65535 }),
  verbose: boolField('VERBOSE', 'Verbose logs', { default: false }),
  level: enumField('LOG_LEVEL', 'Log level', ['debug', 'info', 'warn'] as const, {
    default: 'info',
  }),
  registry: urlField('SCHEMA_REGISTRY_URL', 'Registry URL', { default: 'http://127.0.0.1:8081' }),
  password: stringField('PASSWORD', 'Secret', { default: 'x', secret: true }),
};

describe('parseConfig', () => {
  it('applies defaults, parses values and freezes the result', () => {
    const config = parseConfig(schema, { KAFKA_BROKERS: 'a:1, b:2', VERBOSE: 'yes', PORT: '9000' });
    expect(config).toEqual({
      brokers: ['a:1', 'b:2'],
      port: 9000,
      verbose: true,
      level: 'info',
      registry: 'http://127.0.0.1:8081',
      password: 'x',
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('reports every problem at once, hiding secrets', () => {
    const error = (() => {
      try {
        parseConfig(schema, { PORT: '70000', VERBOSE: 'maybe', LOG_LEVEL: 'loud', PASSWORD: '' });
        return undefined;
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems).toHaveLength(4);
    expect(problems.join('\n')).toMatch(/KAFKA_BROKERS is required/);
    expect(problems.join('\n')).toMatch(/PORT="70000": expected an integer in \[1, 65535\]/);
    expect(problems.join('\n')).toMatch(/VERBOSE="maybe": expected true\/false/);
    expect(problems.join('\n')).toMatch(/LOG_LEVEL="loud": expected one of debug, info, warn/);
    expect((error as ConfigError).code).toBe('CONFIG_INVALID');
  });

  it('rejects malformed URLs and lists with empty items', () => {
    expect(() =>
      parseConfig(schema, { KAFKA_BROKERS: 'a:1,,b', SCHEMA_REGISTRY_URL: 'ftp://x' }),
    ).toThrow(/KAFKA_BROKERS="a:1,,b".*\n.*SCHEMA_REGISTRY_URL="ftp:\/\/x"/s);
  });

  it('describes the schema for the README table', () => {
    const rows = describeConfig(schema);
    expect(rows.find((row) => row.env === 'PORT')).toEqual({
      env: 'PORT',
      default: '8080',
      doc: 'HTTP port',
    });
    expect(rows.find((row) => row.env === 'PASSWORD')?.default).toBe('(secret)');
    expect(rows.find((row) => row.env === 'KAFKA_BROKERS')?.default).toBe('(required)');
  });
});
