/**
 * POST /v1/reviews {reviews: [{text, source?, review_id?, ground_truth?}]} -> 202 {review_ids,
 * event_ids} once Kafka acknowledged them (the async path promises durability).
 *
 * Owns the async review path: the request's schema, the `label` scope for reviews that carry
 * ground_truth (labels steer retraining: 403 SCOPE_MISSING), the text rule (400), the bound on
 * reviews waiting for Kafka (503 OVERLOADED), and 503 KAFKA_UNAVAILABLE with Retry-After when
 * the broker did not take them. Needs scope `submit` and counts against the caller's rate
 * limit (security.ts).
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { OutgoingEvent } from '#platform/kafka';
import type { Sentiment } from '#platform/serde';
import { hasScope } from '../api-keys.ts';
import { RATE_LIMITED } from '../security.ts';
import { apiKeySecurity } from './docs.ts';
import { errorResponses, sendError } from './errors.ts';
import { InFlightLimit, shedLoad } from './load-shedding.ts';
import { type TextLimits, checkTexts } from './texts.ts';

export interface ReviewsRoutesOptions {
  /** Publishes to `reviews`; resolves once the broker acknowledged the events. */
  readonly publishReviews: (events: readonly OutgoingEvent<'reviews'>[]) => Promise<void>;
  readonly limits: TextLimits;
  /** Reviews accepted but not yet acknowledged by Kafka; beyond, 503. */
  readonly maxReviewsInFlight: number;
  /** Event time of the reviews. */
  readonly now: () => number;
}

interface ReviewsBody {
  reviews: { text: string; source?: string; review_id?: string; ground_truth?: Sentiment }[];
}

async function reviewsRoutesPlugin(app: FastifyInstance, options: ReviewsRoutesOptions) {
  const { limits } = options;
  const reviewsInFlight = new InFlightLimit(options.maxReviewsInFlight);

  app.post<{ Body: ReviewsBody }>(
    '/v1/reviews',
    {
      config: { scope: 'submit', ...RATE_LIMITED },
      schema: {
        summary: 'Publish reviews for asynchronous scoring (answers once Kafka acknowledged them)',
        description: 'Reviews with ground_truth need a key with the label scope.',
        security: apiKeySecurity(),
        response: {
          ...errorResponses(400, 401, 403, 413, 415, 429, 503),
          202: {
            type: 'object',
            properties: {
              review_ids: { type: 'array', items: { type: 'string' } },
              event_ids: { type: 'array', items: { type: 'string' } },
            },
          },
        },
        body: {
          type: 'object',
          required: ['reviews'],
          additionalProperties: false,
          properties: {
            reviews: {
              type: 'array',
              minItems: 1,
              maxItems: limits.maxTexts,
              items: {
                type: 'object',
                required: ['text'],
                additionalProperties: false,
                properties: {
                  text: { type: 'string' },
                  source: { type: 'string', minLength: 1, maxLength: 200 },
                  review_id: { type: 'string', minLength: 1, maxLength: 200 },
                  ground_truth: { type: 'string', enum: ['NEGATIVE', 'POSITIVE'] },
                },
              },
            },
          },
        },
      },
    },
    async (request, reply) => {
      const { reviews } = request.body;
      // The scope before the texts: a labelled batch without the scope is 403 even if a text is bad.
      if (
        reviews.some((review) => review.ground_truth !== undefined) &&
        !hasScope(request.principal, 'label')
      ) {
        return sendError(
          reply,
          403,
          'SCOPE_MISSING',
          'reviews with ground_truth need an API key with scope label',
        );
      }
      checkTexts(
        reviews.map((review) => review.text),
        limits.maxTextBytes,
        'reviews[].text',
      );
      if (!reviewsInFlight.tryAcquire(reviews.length)) {
        return shedLoad(
          reply,
          `${reviewsInFlight.inFlight} reviews are waiting for Kafka; retry later`,
        );
      }
      const events = reviews.map((review) => {
        const reviewId = review.review_id ?? randomUUID();
        return {
          key: reviewId,
          value: {
            eventId: randomUUID(),
            eventTime: options.now(),
            reviewId,
            source: review.source ?? 'gateway',
            text: review.text,
            groundTruth: review.ground_truth ?? null,
            attributes: {},
          },
        };
      });
      try {
        await options.publishReviews(events);
      } catch (error) {
        request.log.error({ err: error }, 'publishing reviews failed');
        return sendError(
          reply.header('retry-after', '5'),
          503,
          'KAFKA_UNAVAILABLE',
          'reviews could not be published; retry later',
        );
      } finally {
        reviewsInFlight.release(reviews.length);
      }
      return reply.status(202).send({
        review_ids: events.map((e) => e.value.reviewId),
        event_ids: events.map((e) => e.value.eventId),
      });
    },
  );
}

/**
 * Encapsulated (its in-flight bound is its own); it refuses to load without the plugins its
 * answers rely on: without gateway-security, `config.scope` would guard nothing.
 */
export const reviewsRoutes = fp(reviewsRoutesPlugin, {
  name: 'gateway-reviews-routes',
  fastify: '5.x',
  encapsulate: true,
  dependencies: ['gateway-security', 'gateway-errors'],
});
