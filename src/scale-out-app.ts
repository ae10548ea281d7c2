import { randomUUID } from 'node:crypto';
import type { Config } from './config/load-config';
import { clientTokenFor } from './core/client-token';
import {
  completeDelivery,
  decideDelivery,
  fingerprintOf,
  idempotencyKeyFor,
  releaseClaim,
  type DeliveryDecision,
  type IdempotencyRecord,
  type ScaleOutAnswer,
} from './core/idempotency';
import { renderCreateClusterInstances } from './core/render';
import { resolveScaleOut } from './core/resolve';
import { EventInFlightError, NotFoundError, TkeCallError, UnprocessableError } from './errors';
import { routeOf } from './http/routes';
import type { HttpReply, WebhookRequest } from './http/webhook-request';
import type { WebhookSource } from './sources/webhook-source';
import type { StateStore } from './store/state-store';
import { callCreateClusterInstances, type TkeCallResult } from './tke/call-tke';
import type { TkeApi } from './tke/tke-api';

/**
 * The whole path of one request: route → verify → normalize → decide → render → call → answer.
 * Every collaborator is passed in (config, sources, store, TKE, clock), so tests run it with fakes
 * and the SCF handler, the local server and the benchmark all run the same code.
 */
export interface ScaleOutAppDeps {
  readonly config: Config;
  readonly sources: ReadonlyMap<string, WebhookSource>;
  readonly store: StateStore;
  readonly tke: TkeApi;
  readonly now: () => number;
  /** Where TKE calls go, shown on /healthz: the local sandbox, TKE_ENDPOINT, or Tencent Cloud. */
  readonly tkeMode: TkeMode;
  readonly newClaimId?: () => string;
}

export type TkeMode = 'sandbox' | 'endpoint-override' | 'tencent-cloud';

export interface Invocation {
  /** Epoch ms by which the answer must be sent: the function's own timeout, less a margin. */
  readonly deadline: number;
  /** What the decision log line will say; the app fills it in as it learns. */
  readonly decision: DecisionRecord;
}

/** The fields of the one structured log line written per request (log/decision-log.ts). */
export interface DecisionRecord {
  outcome?: 'created' | 'replayed' | 'health' | 'rejected' | 'failed';
  source?: string;
  eventId?: string;
  cluster?: string;
  clusterId?: string;
  region?: string;
  template?: string;
  count?: number;
  params?: Record<string, unknown>;
  reason?: string;
  clientToken?: string;
  instanceIds?: readonly string[];
  tkeRequestId?: string;
  attempts?: number;
}

export interface ScaleOutApp {
  readonly config: Config;
  readonly now: () => number;
  handle(request: WebhookRequest, invocation: Invocation): Promise<HttpReply>;
}

export type ScaleOutStatus = 'created' | 'replayed';

export function createScaleOutApp(deps: ScaleOutAppDeps): ScaleOutApp {
  const { config, sources, store, tke, now } = deps;
  const newClaimId = deps.newClaimId ?? randomUUID;

  async function handle(request: WebhookRequest, invocation: Invocation): Promise<HttpReply> {
    const route = routeOf(request.method, request.path);
    if (route.kind === 'healthz') {
      invocation.decision.outcome = 'health';
      return { status: 200, body: await health() };
    }
    const source = sources.get(route.source);
    invocation.decision.source = route.source;
    if (source === undefined) {
      throw new NotFoundError('UnknownSource', `no sender ${JSON.stringify(route.source)} is enabled; enabled: ${[...sources.keys()].join(', ') || 'none'}`);
    }
    source.authenticate(request, now());
    return scaleOut(source, request, invocation);
  }

  async function scaleOut(source: WebhookSource, request: WebhookRequest, invocation: Invocation): Promise<HttpReply> {
    const log = invocation.decision;
    const asked = source.normalize(request);
    Object.assign(log, {
      eventId: asked.eventId,
      cluster: asked.cluster,
      template: asked.template,
      ...(asked.count !== undefined && { count: asked.count }),
      ...(asked.reason !== undefined && { reason: asked.reason }),
      ...(asked.params.size > 0 && { params: Object.fromEntries(asked.params) }),
    });

    const resolved = resolveScaleOut(config, asked);
    const clientToken = clientTokenFor(resolved.cluster.clusterId, resolved.template.name, resolved.eventId);
    Object.assign(log, { clusterId: resolved.cluster.clusterId, region: resolved.cluster.region, count: resolved.count, clientToken });

    const fingerprint = fingerprintOf(resolved);
    const key = idempotencyKeyFor(resolved.source, resolved.eventId);
    const claimId = newClaimId();
    const decision = await store.update<IdempotencyRecord, DeliveryDecision>(key, (current) =>
      decideDelivery(current, { claimId, fingerprint, clientToken, claimExpiresAt: invocation.deadline }, now()),
    );
    switch (decision.kind) {
      case 'replay':
        Object.assign(log, { outcome: 'replayed', instanceIds: decision.answer.instanceIds, tkeRequestId: decision.answer.requestId });
        return answer('replayed', decision.answer);
      case 'in-flight':
        throw new EventInFlightError(resolved.eventId, decision.retryAfterSeconds);
      case 'conflict':
        throw new UnprocessableError(
          'EventIdReused',
          `event ${JSON.stringify(resolved.eventId)} was already used for a different request: ${decision.differences.join('; ')}`,
        );
      case 'proceed':
        break;
    }

    const createRequest = renderCreateClusterInstances(resolved, clientToken);
    let result: TkeCallResult;
    try {
      result = await callCreateClusterInstances(tke, resolved.cluster.region, createRequest, {
        deadline: invocation.deadline,
        now,
        policy: config.tke,
      });
    } catch (error) {
      // Failed for good: free the event so the sender's next delivery can try again, with the
      // same ClientToken (so if TKE did act on a lost answer, CVM returns the same instances).
      // Best effort: if the store is down too, the claim still expires at our deadline, and the
      // sender should hear about TKE's failure, not the store's.
      await store.update<IdempotencyRecord, void>(key, (current) => releaseClaim(current, claimId)).catch(() => undefined);
      if (error instanceof TkeCallError) {
        log.attempts = error.attempts;
        if (error.requestId !== undefined) log.tkeRequestId = error.requestId;
      }
      throw error;
    }

    const stored: ScaleOutAnswer = {
      eventId: resolved.eventId,
      clusterId: resolved.cluster.clusterId,
      template: resolved.template.name,
      count: resolved.count,
      clientToken,
      instanceIds: result.response.InstanceIdSet,
      requestId: result.response.RequestId,
    };
    await store.update<IdempotencyRecord, void>(key, () =>
      completeDelivery(fingerprint, stored, now(), config.idempotency.ttlSeconds * 1000),
    );
    Object.assign(log, { outcome: 'created', instanceIds: stored.instanceIds, tkeRequestId: stored.requestId, attempts: result.attempts });
    return answer('created', stored);
  }

  async function health(): Promise<Record<string, unknown>> {
    return {
      status: 'ok',
      clusters: Object.fromEntries([...config.clusters.values()].map((c) => [c.alias, { clusterId: c.clusterId, region: c.region }])),
      templates: [...config.templates.keys()],
      sources: [...sources.keys()],
      store: { kind: store.kind, shared: store.shared, reachable: await store.ping() },
      tke: { mode: deps.tkeMode, endpoint: tke.endpointDescription },
    };
  }

  return { config, now, handle };
}

function answer(status: ScaleOutStatus, stored: ScaleOutAnswer): HttpReply {
  return {
    status: 200,
    body: {
      status,
      eventId: stored.eventId,
      clusterId: stored.clusterId,
      template: stored.template,
      count: stored.count,
      clientToken: stored.clientToken,
      instanceIds: stored.instanceIds,
      requestId: stored.requestId,
    },
  };
}
