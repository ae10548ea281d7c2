import { createHmac } from 'node:crypto';
import { constantTimeEquals } from '../../auth/constant-time';
import type { ParamValue } from '../../core/model';
import type { ScaleOutOrigin, ScaleOutRequest } from '../../core/scale-out-request';
import { isJsonObject } from '../../http/json-body';

/**
 * A chat command whose TKE call had no answer by the chat's deadline is finished by an
 * asynchronous invocation of the function itself, which posts the final outcome to the chat.
 *
 * Why an invocation: SCF stops a function once it has answered its HTTP request, and the chat
 * must be answered within 3 s, while TKE may take longer. So the first invocation answers "sent,
 * may be in progress" and hands the same scale-out (same event ID, hence the same ClientToken:
 * CVM returns the first purchase's instances, never a second purchase) to an `Invoke` of this
 * function with `InvocationType: Event` (SCF's asynchronous invocation, which returns at once).
 * That invocation has the function's whole timeout for TKE and posts the outcome where the
 * platform takes later replies: Slack's `response_url`, DingTalk's `sessionWebhook`, Feishu's
 * reply API.
 *
 * The job travels as the invocation's event (ClientContext, at most 128 KB for an asynchronous
 * invocation). Only an `Invoke` call can deliver one, but `scf:InvokeFunction` on this function must not
 * amount to `tke:CreateClusterInstances` past the chat's allow-list: so the job carries an HMAC
 * under the chat sender's own secret (which only the function knows), checked with the current and
 * previous secrets; it is also checked field by field, its request goes through the config, the
 * claim and the throttle like any other, and its reply address must be under the platform's base.
 */
export const FOLLOW_UP_EVENT_KIND = 'tke-scaleout/chat-follow-up';

/**
 * Where a reply can be posted later: a URL the platform gave (Slack's response_url, DingTalk's
 * sessionWebhook) or a message to reply to (Feishu).
 */
export type ReplyTarget =
  | {
      readonly kind: 'url';
      readonly url: string;
      /** When the platform stops taking posts there (Slack: 30 min after the command; DingTalk: sessionWebhookExpiredTime). */
      readonly expiresAt?: number;
      /** Posts it takes in all (Slack's response_url: 5). */
      readonly uses?: number;
    }
  | { readonly kind: 'message'; readonly messageId: string };

export interface FollowUpJob {
  readonly kind: typeof FOLLOW_UP_EVENT_KIND;
  readonly source: string;
  readonly request: SerializedRequest;
  readonly target: ReplyTarget;
  /** hex HMAC-SHA256 of the job without it, under the sender's secret (`signFollowUp`). */
  readonly mac: string;
}

export interface SerializedRequest {
  readonly source: string;
  readonly eventId: string;
  readonly cluster: string;
  readonly template: string;
  readonly count?: number;
  readonly params: ReadonlyArray<readonly [string, ParamValue]>;
  readonly reason?: string;
  /** Who asked, in which conversation: the purchase keeps it, and its later news goes there (notify/conversation.ts). */
  readonly origin?: Extract<ScaleOutOrigin, { kind: 'chat' }>;
}

/** Sends a job to an asynchronous invocation of this function. */
export interface FollowUpDispatcher {
  /** Where jobs go, for logs: e.g. "scf:default/tke-scaleout in ap-guangzhou". */
  readonly description: string;
  dispatch(job: FollowUpJob): Promise<void>;
}

/** Follow-ups as asynchronous invocations of this function (tencentcloud/scf-invoke.ts). */
export function followUpsThroughScf(invoker: { readonly description: string; invoke(event: object): Promise<void> }): FollowUpDispatcher {
  return { description: invoker.description, dispatch: (job) => invoker.invoke(job) };
}

export function followUpJob(request: ScaleOutRequest, target: ReplyTarget, secret: string): FollowUpJob {
  const unsigned: Omit<FollowUpJob, 'mac'> = {
    kind: FOLLOW_UP_EVENT_KIND,
    source: request.source,
    request: {
      source: request.source,
      eventId: request.eventId,
      cluster: request.cluster,
      template: request.template,
      ...(request.count !== undefined && { count: request.count }),
      params: [...request.params.entries()],
      ...(request.reason !== undefined && { reason: request.reason }),
      ...(request.origin?.kind === 'chat' && { origin: request.origin }),
    },
    target,
  };
  return { ...unsigned, mac: followUpMac(unsigned, secret) };
}

/** Whether the job was signed under one of `secrets` (current first, then previous ones). */
export function isSignedFollowUp(job: FollowUpJob, secrets: readonly string[]): boolean {
  const { mac, ...unsigned } = job;
  return secrets.some((secret) => constantTimeEquals(mac, followUpMac(unsigned, secret)));
}

/** Over a fixed field order, so the signature does not depend on how JSON was laid out in transit. */
function followUpMac(job: Omit<FollowUpJob, 'mac'>, secret: string): string {
  const r = job.request;
  const origin = r.origin === undefined ? null : [r.origin.kind, r.origin.user, r.origin.conversation ?? null];
  const canonical = JSON.stringify([job.kind, job.source, r.source, r.eventId, r.cluster, r.template, r.count ?? null, r.params, r.reason ?? null, job.target, origin]);
  return createHmac('sha256', `tke-scaleout follow-up\n${secret}`).update(canonical).digest('hex');
}

export function requestOfJob(job: FollowUpJob): ScaleOutRequest {
  const r = job.request;
  return {
    source: r.source,
    eventId: r.eventId,
    cluster: r.cluster,
    template: r.template,
    ...(r.count !== undefined && { count: r.count }),
    params: new Map(r.params),
    ...(r.reason !== undefined && { reason: r.reason }),
    ...(r.origin !== undefined && { origin: r.origin }),
  };
}

/** A follow-up event, checked field by field (anything else is not one). */
export function isFollowUpEvent(event: unknown): event is FollowUpJob {
  if (!isJsonObject(event) || event.kind !== FOLLOW_UP_EVENT_KIND || typeof event.source !== 'string') return false;
  const { request, target } = event;
  if (!isJsonObject(request) || !isJsonObject(target)) return false;
  const stringsOk = ['source', 'eventId', 'cluster', 'template'].every((k) => typeof request[k] === 'string');
  const countOk = request.count === undefined || (typeof request.count === 'number' && Number.isInteger(request.count));
  const reasonOk = request.reason === undefined || typeof request.reason === 'string';
  const origin = request.origin;
  const originOk = origin === undefined || (isJsonObject(origin) && origin.kind === 'chat' && typeof origin.user === 'string' && (origin.conversation === undefined || typeof origin.conversation === 'string'));
  const paramsOk =
    Array.isArray(request.params) &&
    request.params.every((p) => Array.isArray(p) && p.length === 2 && typeof p[0] === 'string' && ['string', 'number', 'boolean'].includes(typeof p[1]));
  const optionalNumber = (v: unknown) => v === undefined || (typeof v === 'number' && Number.isFinite(v));
  const targetOk = (target.kind === 'url' && typeof target.url === 'string' && optionalNumber(target.expiresAt) && optionalNumber(target.uses)) || (target.kind === 'message' && typeof target.messageId === 'string');
  return stringsOk && countOk && reasonOk && originOk && paramsOk && targetOk && request.source === event.source && typeof event.mac === 'string';
}

/** A reply URL from a payload is used only under the platform's base (https://hooks.slack.com, ...). */
export function isUnderBase(url: string, base: string): boolean {
  let parsed: URL;
  let allowed: URL;
  try {
    parsed = new URL(url);
    allowed = new URL(base);
  } catch {
    return false;
  }
  const basePath = allowed.pathname.endsWith('/') ? allowed.pathname : `${allowed.pathname}/`;
  return (
    parsed.protocol === allowed.protocol &&
    parsed.host === allowed.host &&
    parsed.username === '' &&
    parsed.password === '' &&
    (allowed.pathname === '/' || parsed.pathname.startsWith(basePath))
  );
}
