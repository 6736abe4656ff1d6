/**
 * Load shedding: a route admits work only while what it already holds (texts waiting for the
 * model, reviews waiting for Kafka) stays within a bound; beyond, the client gets 503
 * OVERLOADED with Retry-After instead of queueing without bound (memory and latency).
 *
 * Not a plugin: each route plugin owns its bound (`new InFlightLimit(max)` in the plugin, so one
 * per app instance), and admits a request after validating it, which a hook cannot do.
 */
import type { FastifyReply } from 'fastify';
import { sendError } from './errors.ts';

/** Units (texts, reviews) in flight, at most `max` at once. */
export class InFlightLimit {
  #inFlight = 0;

  /** `Infinity`: unbounded. */
  constructor(readonly max: number = Infinity) {}

  get inFlight(): number {
    return this.#inFlight;
  }

  /** Takes `units` if they fit under the bound with what is in flight; false otherwise. */
  tryAcquire(units: number): boolean {
    if (this.#inFlight + units > this.max) return false;
    this.#inFlight += units;
    return true;
  }

  /** Gives back units taken with `tryAcquire` (call it in a `finally`). */
  release(units: number): void {
    this.#inFlight -= units;
  }
}

/** 503 OVERLOADED, retry in a second. */
export function shedLoad(reply: FastifyReply, message: string): FastifyReply {
  return sendError(reply.header('retry-after', '1'), 503, 'OVERLOADED', message);
}
