/** Confluent Schema Registry error codes and bodies (`{error_code, message}`). */
import { AppError } from '#shared/common';

export class RegistryHttpError extends AppError {
  constructor(
    readonly status: number,
    readonly errorCode: number,
    message: string,
  ) {
    super(`REGISTRY_${errorCode}`, message);
  }

  get body(): { error_code: number; message: string } {
    return { error_code: this.errorCode, message: this.message };
  }
}

export const subjectNotFound = (subject: string) =>
  new RegistryHttpError(404, 40401, `Subject '${subject}' not found.`);
export const versionNotFound = () => new RegistryHttpError(404, 40402, 'Version not found.');
export const schemaNotFound = () => new RegistryHttpError(404, 40403, 'Schema not found');
export const subjectConfigNotFound = (subject: string) =>
  new RegistryHttpError(404, 40408, `Subject '${subject}' does not have subject-level compatibility configured`);
export const incompatibleSchema = (subject: string, details: readonly string[]) =>
  new RegistryHttpError(
    409,
    409,
    `Schema being registered is incompatible with an earlier schema for subject "${subject}", details: [${details.join(', ')}]`,
  );
export const invalidSchema = (reason: string) =>
  new RegistryHttpError(422, 42201, `Invalid schema: ${reason}`);
export const invalidVersion = (version: string) =>
  new RegistryHttpError(
    422,
    42202,
    `The specified version '${version}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string "latest"`,
  );
export const invalidCompatibilityLevel = (level: unknown) =>
  new RegistryHttpError(422, 42203, `Invalid compatibility level. Valid values are none, backward, forward, full, backward_transitive, forward_transitive, and full_transitive: ${String(level)}`);
