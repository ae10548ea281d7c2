import type { Authenticate } from '../auth/authenticators';
import type { Config } from '../config/load-config';
import { givingBack } from '../core/release';
import { liveInstancesOf, type PurchaseIndexEntry, type PurchaseRecord, type PurchaseState } from '../core/purchase';
import { BadRequestError, NotFoundError, UnauthorizedError } from '../errors';
import type { WebhookRequest } from '../http/webhook-request';
import type { StateStore } from '../store/state-store';
import { indexedPurchases, readPurchase } from './purchase-reads';

/**
 * `GET …/purchases`: what the function bought, newest first, each with its state, instances, price,
 * age and what asked for it. Filterable by `cluster` (alias or ClusterId) and `state`; `limit`
 * (default 100, at most 500). It names clusters and instances, so it takes the health token
 * (`health.tokenEnv`) and is not served without one.
 */
export interface PurchaseListDeps {
  readonly config: Config;
  readonly store: StateStore;
  readonly now: () => number;
  readonly healthAuth?: Authenticate;
}

const STATES: readonly PurchaseState[] = ['requested', 'created', 'joining', 'ready', 'failed', 'cleaned'];
const MAX_LIMIT = 500;

export async function purchaseList(deps: PurchaseListDeps, request: WebhookRequest): Promise<Record<string, unknown>> {
  if (deps.healthAuth === undefined) throw new NotFoundError('PurchasesNotServed', 'GET /purchases needs a token: set health.tokenEnv in the config and its variable');
  if (request.headers.authorization === undefined) throw new UnauthorizedError('GET /purchases needs the health token as a bearer token');
  deps.healthAuth(request, deps.now());
  const { cluster, state, limit } = filtersOf(deps.config, request.query);
  const entries: PurchaseIndexEntry[] = [];
  for (const clusterId of cluster !== undefined ? [cluster] : [...deps.config.clusters.values()].map((c) => c.clusterId)) {
    entries.push(...(await indexedPurchases(deps.store, clusterId)));
  }
  // Newest first, across clusters.
  const wanted = entries.sort((a, b) => b.at - a.at);
  const now = deps.now();
  const purchases: Array<Record<string, unknown>> = [];
  let missing = 0;
  for (const entry of wanted) {
    if (purchases.length >= limit) break;
    const record = await readPurchase(deps.store, entry.clusterId, entry.id);
    if (record === undefined) {
      missing++;
      continue;
    }
    if (state !== undefined && record.state !== state) continue;
    purchases.push(view(record, now));
  }
  return { purchases, ...(missing > 0 && { unrecorded: missing }) };
}

function filtersOf(config: Config, query: Readonly<Record<string, string>>): { cluster?: string; state?: PurchaseState; limit: number } {
  let cluster: string | undefined;
  if (query.cluster !== undefined) {
    cluster = config.clusters.get(query.cluster)?.clusterId ?? [...config.clusters.values()].find((c) => c.clusterId === query.cluster)?.clusterId;
    if (cluster === undefined) throw new BadRequestError('UnknownCluster', `cluster: ${JSON.stringify(query.cluster.slice(0, 64))}${query.cluster.length > 64 ? '…' : ''} is not in the config; known: ${[...config.clusters.keys()].join(', ')}`);
  }
  let state: PurchaseState | undefined;
  if (query.state !== undefined) {
    if (!(STATES as readonly string[]).includes(query.state)) throw new BadRequestError('InvalidState', `state: one of ${STATES.join(', ')}`);
    state = query.state as PurchaseState;
  }
  let limit = 100;
  if (query.limit !== undefined) {
    limit = Number(query.limit);
    if (!/^[0-9]{1,4}$/.test(query.limit) || limit < 1 || limit > MAX_LIMIT) throw new BadRequestError('InvalidLimit', `limit: a whole number from 1 to ${MAX_LIMIT}`);
  }
  return { ...(cluster !== undefined && { cluster }), ...(state !== undefined && { state }), limit };
}

/**
 * A record as an operator reads it: times as ISO dates, its age; not the request (the record keeps
 * it without its login settings and user script, core/purchase.ts). The store is shared and
 * outlives deploys: a time that cannot be read shows as absent, not as a 500.
 */
function view(record: PurchaseRecord, now: number): Record<string, unknown> {
  const iso = (t: unknown) => (typeof t === 'number' && Number.isFinite(t) && Math.abs(t) < 8.64e15 ? new Date(t).toISOString() : undefined);
  return {
    id: record.id,
    state: record.state,
    cluster: record.cluster,
    clusterId: record.clusterId,
    template: record.template,
    rung: record.rung,
    ...record.offering,
    count: record.count,
    instanceIds: record.instanceIds,
    ...(record.price !== undefined && { price: record.price }),
    askedBy: record.askedBy,
    clientToken: record.clientToken,
    requestedAt: iso(record.requestedAt),
    ...(record.createdAt !== undefined && { createdAt: iso(record.createdAt) }),
    ...(record.readyAt !== undefined && { readyAt: iso(record.readyAt) }),
    ...(record.endedAt !== undefined && { endedAt: iso(record.endedAt) }),
    ...(record.instances !== undefined && { instances: record.instances }),
    // The purchase stays `ready` once its nodes joined; what became of each since is its release.
    ...(record.state === 'ready' && { nodes: nodesOf(record) }),
    ...(record.failedReason !== undefined && { failedReason: record.failedReason }),
    ...(typeof record.readyAt === 'number' && typeof record.createdAt === 'number' && { timeToReadySeconds: Math.round((record.readyAt - record.createdAt) / 1000) }),
    ...(iso(record.lastFollowedAt) !== undefined && { lastFollowedAt: iso(record.lastFollowedAt) }),
    ...(typeof record.requestedAt === 'number' && Number.isFinite(record.requestedAt) && { ageSeconds: Math.max(0, Math.round((now - record.requestedAt) / 1000)) }),
  };
}

/** A ready purchase's nodes by what became of them since: in service, being given back, given back (core/release.ts). */
function nodesOf(record: PurchaseRecord): { inService: number; givingBack: number; released: number } {
  const live = new Set(liveInstancesOf(record));
  const counts = { inService: 0, givingBack: 0, released: 0 };
  for (const [id, instance] of Object.entries(record.instances ?? {})) {
    if (instance.release?.state === 'released') counts.released++;
    else if (!live.has(id)) continue;
    else if (givingBack(instance.release)) counts.givingBack++;
    else counts.inService++;
  }
  return counts;
}
