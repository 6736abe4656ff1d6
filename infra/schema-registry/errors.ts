/**
 * Errors of the schema registry REST API, with Confluent's HTTP statuses and `error_code`s
 * (clients such as @kafkajs/confluent-schema-registry and Confluent's own branch on them).
 */
import { AppError } from '#platform/common';

export interface RegistryErrorBody {
  readonly error_code: number;
  readonly message: string;
}

export class RegistryError extends AppError {
  readonly status: number;
  readonly errorCode: number;

  constructor(status: number, errorCode: number, message: string) {
    super(`SCHEMA_REGISTRY_${errorCode}`, message);
    this.status = status;
    this.errorCode = errorCode;
  }

  get body(): RegistryErrorBody {
    return { error_code: this.errorCode, message: this.message };
  }
}

export function subjectNotFound(subject: string): RegistryError {
  return new RegistryError(404, 40401, `Subject '${subject}' not found.`);
}

export function versionNotFound(version: number | string): RegistryError {
  return new RegistryError(404, 40402, `Version ${version} not found.`);
}

export function schemaNotFound(): RegistryError {
  return new RegistryError(404, 40403, 'Schema not found');
}

export function subjectNotSoftDeleted(subject: string): RegistryError {
  return new RegistryError(
    404,
    40405,
    `Subject '${subject}' was not deleted first before being permanently deleted`,
  );
}

export function subjectConfigNotFound(subject: string): RegistryError {
  return new RegistryError(
    404,
    40408,
    `Subject '${subject}' does not have subject-level compatibility configured`,
  );
}

export function incompatibleSchema(subject: string, details: readonly string[]): RegistryError {
  return new RegistryError(
    409,
    409,
    `Schema being registered is incompatible with an earlier schema for subject "${subject}", details: [${details.join(', ')}]`,
  );
}

export function invalidSchema(reason: string): RegistryError {
  return new RegistryError(422, 42201, `Invalid schema: ${reason}`);
}

export function invalidVersion(version: string): RegistryError {
  return new RegistryError(
    422,
    42202,
    `The specified version '${version}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string "latest"`,
  );
}

export function invalidCompatibilityLevel(level: unknown): RegistryError {
  const shown = typeof level === 'string' ? level : JSON.stringify(level);
  return new RegistryError(
    422,
    42203,
    `Invalid compatibility level ${shown}. Valid values are none, backward, forward, full, backward_transitive, forward_transitive, and full_transitive`,
  );
}
