/**
 * The gateway's one error shape, `{statusCode, error, code, message}`, wherever a client can
 * meet an error: the error handler (`errorHandlerPlugin`, shared with every route through
 * fastify-plugin, because an error handler set inside an encapsulated plugin would not reach
 * the sibling route plugins), the answers routes send themselves (`sendError`), the schema the
 * OpenAPI document gives every error status (`errorResponses`), and requests Node's HTTP
 * parser refuses before Fastify sees them (`clientErrorHandler`, a server option).
 */
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import fp from 'fastify-plugin';

export interface ErrorBody {
  readonly statusCode: number;
  /** The HTTP reason phrase. */
  readonly error: string;
  /** Stable and machine-readable: what a client acts on. */
  readonly code: string;
  readonly message: string;
}

export function errorBody(statusCode: number, code: string, message: string): ErrorBody {
  return { statusCode, error: STATUS_CODES[statusCode] ?? 'Error', code, message };
}

/** Answers `status` with the error shape. */
export function sendError(
  reply: FastifyReply,
  status: number,
  code: string,
  message: string,
): FastifyReply {
  return reply.status(status).send(errorBody(status, code, message));
}

/** A 400 to throw from a handler; the error handler turns it into the error shape. */
export function badRequest(message: string, code = 'BAD_REQUEST'): FastifyError {
  return Object.assign(new Error(message), { statusCode: 400, code }) as FastifyError;
}

// Every answer a client can get is in the OpenAPI document (the fuzzer checks each one).
export const errorSchema = {
  type: 'object',
  required: ['statusCode', 'code', 'message'],
  properties: {
    statusCode: { type: 'integer' },
    error: { type: 'string' },
    code: { type: 'string' },
    message: { type: 'string' },
  },
} as const;

/** Response schemas for a route's error statuses: `response: { ...errorResponses(400, 401) }`. */
export function errorResponses(...statuses: number[]): Record<number, typeof errorSchema> {
  return Object.fromEntries(statuses.map((status) => [status, errorSchema]));
}

/**
 * Server option: a request Node's HTTP parser refuses (bad header, bad framing) gets the same
 * JSON error body as every other 400, not Fastify's bare "Client Error".
 */
export function clientErrorHandler(error: Error, socket: Socket): void {
  if (!socket.writable) return void socket.destroy(error);
  const body = JSON.stringify(errorBody(400, 'BAD_REQUEST', 'malformed HTTP request'));
  socket.end(
    'HTTP/1.1 400 Bad Request\r\nContent-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

async function errorHandling(app: FastifyInstance): Promise<void> {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const status = error.statusCode ?? 500;
    if (status >= 500) request.log.error({ err: error }, 'request failed');
    // Schema validation failures say so, so a client can tell them from the gateway's own checks.
    const message = error.validation ? `invalid request: ${error.message}` : error.message;
    return sendError(reply, status, error.code ?? 'ERROR', message);
  });
}

export const errorHandlerPlugin = fp(errorHandling, { name: 'gateway-errors', fastify: '5.x' });
