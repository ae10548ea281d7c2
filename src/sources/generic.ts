import { dotted } from '../config/zod-issues';
import { errorAnswer } from '../http/error-response';
import * as z from '../config/zod';
import { builtOnFirstUse } from '../config/zod';
import { bearerAuthentication, noAuthentication, withSecret, type Authenticate } from '../auth/authenticators';
import { verifyGenericSignature } from '../auth/hmac';
import type { GenericSourceConfig } from '../config/schema';
import type { ParamValue } from '../config/load-config';
import type { ReleaseRequest } from '../core/release';
import type { ScaleOutRequest } from '../core/scale-out-request';
import { BadRequestError } from '../errors';
import { parseJsonBody } from '../http/json-body';
import type { WebhookRequest } from '../http/webhook-request';
import { EVENT_ID_RULE, isValidEventId } from './event-id';
import { scaleOutAnswerBody } from '../http/scale-out-answer';
import type { Interpretation, WebhookSource } from './webhook-source';

/**
 * The plain JSON call, for scripts, CI jobs and anything that can send JSON:
 *
 *   POST /hooks/generic
 *   { "eventId": "...", "cluster": "demo", "template": "small", "count": 2, "params": {...}, "reason": "...", "dryRun": false }
 *
 * `Idempotency-Key` (IETF draft) may carry the event ID instead of the body.
 */
// Built on first use (config/zod.ts): an instance builds only the schemas of the senders it hears from.
// zod/mini (config/zod.ts): `.check(...)` is the chained API's `.min()`, `.int()`, ..., the same checks.
const genericPayloadSchema = builtOnFirstUse(() =>
  z.strictObject({
    eventId: z.optional(z.string()),
    cluster: z.string({ error: 'is required: a cluster alias or ClusterId from the config' }).check(z.minLength(1, 'must not be empty'), z.maxLength(64, 'is longer than 64 characters')),
    template: z.string({ error: 'is required: a template name from the config' }).check(z.minLength(1, 'must not be empty'), z.maxLength(64, 'is longer than 64 characters')),
    count: z.optional(z.number({ error: 'must be a whole number' }).check(z.int('must be a whole number'))),
    params: z.optional(
      z.record(
        z.string().check(z.maxLength(64, 'param names are at most 64 characters')),
        z.union([z.string().check(z.maxLength(256)), z.number(), z.boolean()], { error: 'param values must be a string, number or boolean' }),
      ),
    ),
    reason: z.optional(z.string().check(z.maxLength(1024, 'is longer than 1024 characters'))),
    /** Resolve, render and price only (every rung of a ladder, what a money budget leaves); nothing is sent. */
    dryRun: z.optional(z.boolean({ error: 'must be true or false' })),
  }),
);

/**
 * Giving nodes back (issue 19): `{"action": "scale-in", "eventId": "...", "cluster": "demo", "count": 2 | "all",
 * "template"?: "...", "reason"?: "...", "dryRun"?: true}`. Queued for the pass, which drains them.
 */
const releasePayloadSchema = builtOnFirstUse(() =>
  z.strictObject({
    action: z.literal('scale-in'),
    eventId: z.optional(z.string()),
    cluster: z.string({ error: 'is required: a cluster alias or ClusterId from the config' }).check(z.minLength(1, 'must not be empty'), z.maxLength(64, 'is longer than 64 characters')),
    count: z.union([z.number().check(z.int(), z.minimum(1), z.maximum(10_000)), z.literal('all')], { error: 'must be a whole number from 1, or "all"' }),
    template: z.optional(z.string().check(z.minLength(1, 'must not be empty'), z.maxLength(64, 'is longer than 64 characters'))),
    reason: z.optional(z.string().check(z.maxLength(1024, 'is longer than 1024 characters'))),
    dryRun: z.optional(z.boolean({ error: 'must be true or false' })),
  }),
);

export function createGenericSource(config: GenericSourceConfig, env: NodeJS.ProcessEnv): WebhookSource {
  const authenticate = authenticatorFor(config, env);
  return {
    name: 'generic',
    authenticate,
    interpret(request: WebhookRequest): Interpretation {
      const body = parseJsonBody(request);
      if (typeof body === 'object' && body !== null && !Array.isArray(body) && (body as { action?: unknown }).action === 'scale-in') {
        return { kind: 'scale-in', asks: [releaseRequestOf(request, body)] };
      }
      return { kind: 'scale-out', requests: [normalize(request)] };
    },
    answerRelease([outcome]) {
      if (outcome === undefined) throw new Error('the generic sender always asks for one scale-in');
      if (!outcome.ok) return errorAnswer(outcome.error);
      const r = outcome.request;
      const base = { status: outcome.status, eventId: r.eventId, cluster: r.cluster, count: r.count, ...(r.template !== undefined && { template: r.template }) };
      // Queued, not done: the timer pass drains and deletes (202 Accepted); a dry run is done (200).
      return outcome.status === 'dry-run' ? { status: 200, body: { ...base, ...outcome.plan } } : { status: 202, body: base };
    },
    // One request, one answer: the outcome itself, or its error through the one error mapping.
    answer([outcome]) {
      if (outcome === undefined) throw new Error('the generic sender always asks for one scale-out');
      if (!outcome.ok) return errorAnswer(outcome.error);
      return { status: 200, body: scaleOutAnswerBody(outcome.status, outcome.answer, outcome.preview) };
    },
  };
}

function normalize(request: WebhookRequest): ScaleOutRequest {
  const body = parseJsonBody(request);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new BadRequestError('InvalidPayload', 'body must be a JSON object');
  }
  const parsed = genericPayloadSchema().safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.code === 'unrecognized_keys' ? issue.keys.join(', ') : dotted(issue.path, 'body');
    const message = issue.code === 'unrecognized_keys' ? 'unknown field; allowed: eventId, cluster, template, count, params, reason, dryRun' : issue.message;
    throw new BadRequestError('InvalidPayload', `${field}: ${message}`);
  }
  const payload = parsed.data;
  const eventId = eventIdOf(request, payload.eventId);
  return {
    source: 'generic',
    eventId,
    cluster: payload.cluster,
    template: payload.template,
    ...(payload.count !== undefined && { count: payload.count }),
    params: new Map<string, ParamValue>(Object.entries(payload.params ?? {})),
    ...(payload.reason !== undefined && { reason: payload.reason }),
    ...(payload.dryRun === true && { dryRun: true }),
  };
}

function releaseRequestOf(request: WebhookRequest, body: object): ReleaseRequest {
  const parsed = releasePayloadSchema().safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.code === 'unrecognized_keys' ? issue.keys.join(', ') : dotted(issue.path, 'body');
    const message = issue.code === 'unrecognized_keys' ? 'unknown field; allowed with "action": "scale-in": eventId, cluster, count, template, reason, dryRun' : issue.message;
    throw new BadRequestError('InvalidPayload', `${field}: ${message}`);
  }
  const p = parsed.data;
  return {
    source: 'generic',
    eventId: eventIdOf(request, p.eventId),
    cluster: p.cluster,
    count: p.count,
    ...(p.template !== undefined && { template: p.template }),
    ...(p.reason !== undefined && { reason: p.reason }),
    ...(p.dryRun === true && { dryRun: true }),
  };
}

function eventIdOf(request: WebhookRequest, fromBody: string | undefined): string {
  // The IETF draft sends the key as a structured-field string, quotes included.
  const header = request.headers['idempotency-key']?.replace(/^"(.*)"$/, '$1');
  if (header !== undefined && fromBody !== undefined && header !== fromBody) {
    throw new BadRequestError('EventIdMismatch', 'eventId and the Idempotency-Key header differ; send one, or the same value in both');
  }
  const eventId = fromBody ?? header;
  const field = fromBody !== undefined ? 'eventId' : 'Idempotency-Key';
  if (eventId === undefined) {
    throw new BadRequestError('MissingEventId', 'eventId: is required (or send an Idempotency-Key header)');
  }
  if (!isValidEventId(eventId)) throw new BadRequestError('InvalidEventId', `${field}: ${EVENT_ID_RULE}`);
  return eventId;
}

function authenticatorFor(config: GenericSourceConfig, env: NodeJS.ProcessEnv): Authenticate {
  const auth = config.auth;
  if (auth === 'none') return noAuthentication;
  if (auth.bearer !== undefined) return bearerAuthentication('generic', auth.bearer, env);
  const { secretEnv, toleranceSeconds } = auth.hmac!;
  return withSecret('generic', secretEnv, env, (request, now, secret) =>
    verifyGenericSignature(request.headers, request.rawBody, secret, now, toleranceSeconds),
  );
}
