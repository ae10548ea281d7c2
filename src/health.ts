import type { Authenticate } from './auth/authenticators';
import type { Config } from './config/load-config';
import { clusterCostScope, costLeft, deploymentCostScope, type CostScope, type CostState } from './core/cost-budget';
import type { ClusterConfig } from './core/model';
import { rungCountOf } from './core/rungs';
import { liveMarks, SOLD_OUT_KEY, type SoldOutState } from './core/sold-out';
import type { WebhookRequest } from './http/webhook-request';
import { indexedPurchases, nodeBudgetNow, readPurchase } from './purchases/purchase-reads';
import type { StateStore } from './store/state-store';
import type { PriceApi } from './tencentcloud/cvm-api';
import type { TkeApi } from './tke/tke-api';
import { readValue } from './core/store-step';
import { outboxEntriesOf, OUTBOX_INDEX_KEY, type OutboxIndex } from './notify/outbox';
import type { Sink } from './notify/sinks/sink';

/** Where TKE calls go, shown on /healthz: the local sandbox, TKE_ENDPOINT, or Tencent Cloud. */
export type TkeMode = 'sandbox' | 'endpoint-override' | 'tencent-cloud';

/** What /healthz reads: the app's own collaborators (scale-out-app.ts passes its deps). */
export interface HealthDeps {
  readonly config: Config;
  /** The senders enabled, by name. */
  readonly sources: ReadonlyMap<string, unknown>;
  readonly store: StateStore;
  readonly tke: Pick<TkeApi, 'endpointDescription'>;
  readonly now: () => number;
  readonly tkeMode: TkeMode;
  /** Checks the bearer token that unlocks the config summary (`health.tokenEnv`); absent, it is shown to no one. */
  readonly healthAuth?: Authenticate;
  readonly prices?: Pick<PriceApi, 'endpointDescription'>;
  /** Where notices go (notify/sinks/): their names and platforms are shown, never their URLs. */
  readonly sinks?: ReadonlyMap<string, Pick<Sink, 'name' | 'type'>>;
}

/**
 * The body of /healthz. To anyone: whether the function is up and its store answers. With the
 * health token: the config summary too (clusters and their IDs, throttle settings, money budgets
 * and what their windows have left, senders, where TKE calls go, the offerings marked sold out),
 * which tells an attacker what to aim at, so it is not public. Never a secret either way. A wrong
 * token throws the authenticator's UnauthorizedError, answered as any other.
 */
export async function healthBody(deps: HealthDeps, request: WebhookRequest): Promise<Record<string, unknown>> {
  const { config, store, now } = deps;
  const reachable = await store.ping();
  const check = reachable ? await store.check?.().catch(() => undefined) : undefined;
  const status = { status: reachable && check?.problem === undefined ? 'ok' : 'degraded', store: { reachable } };
  if (deps.healthAuth === undefined || request.headers.authorization === undefined) return status;
  deps.healthAuth(request, now());
  const purchases: Map<string, Record<string, unknown>> | { unavailable: string } = reachable
    ? await purchasesByCluster(deps).catch(() => ({ unavailable: 'the purchases could not be read' }))
    : { unavailable: 'the store is not reachable' };
  return {
    ...status,
    clusters: Object.fromEntries(
      await Promise.all(
        [...config.clusters.values()].map(async (c) => {
          const own = clusterCostScope(c);
          return [
            c.alias,
            {
              clusterId: c.clusterId,
              region: c.region,
              throttle: c.throttle,
              nodeBudget: reachable ? await nodeBudgetSummary(deps, c) : { unavailable: 'the store is not reachable' },
              ...(own !== undefined && { costBudget: await budgetSummary(deps, own) }),
              purchases: purchases instanceof Map ? purchases.get(c.clusterId) : purchases,
            },
          ];
        }),
      ),
    ),
    ...(config.costBudget !== undefined && { costBudget: await budgetSummary(deps, deploymentCostScope(config.costBudget)) }),
    templates: [...config.templates.keys()],
    ladders: Object.fromEntries([...config.templates.values()].filter((t) => rungCountOf(t) > 1).map((t) => [t.name, rungCountOf(t)])),
    sources: [...deps.sources.keys()],
    store: { kind: store.kind, shared: store.shared, reachable, ...check },
    tke: { mode: deps.tkeMode, endpoint: deps.tke.endpointDescription },
    ...(deps.prices !== undefined && { cvm: { endpoint: deps.prices.endpointDescription } }),
    soldOut: reachable ? await soldOutSummary(deps).catch((e: unknown) => ({ unavailable: (e as Error).message })) : { unavailable: 'the store is not reachable' },
    ...(deps.sinks !== undefined && deps.sinks.size > 0 && { notify: await notifySummary(deps, reachable) }),
  };
}

/**
 * The sinks (names and platforms: a sink's URL is its credential) and the notices still waiting in
 * the outbox (notify/outbox.ts): how many, and since when the oldest, so that a sink that has been
 * down for a while shows here before anyone misses a message.
 */
async function notifySummary({ store, now, sinks }: HealthDeps, reachable: boolean): Promise<Record<string, unknown>> {
  const list = Object.fromEntries([...sinks!.values()].map((s) => [s.name, s.type]));
  if (!reachable) return { sinks: list, outbox: { unavailable: 'the store is not reachable' } };
  try {
    const waiting = outboxEntriesOf(await store.update<OutboxIndex, OutboxIndex | undefined>(OUTBOX_INDEX_KEY, readValue));
    const due = waiting.filter((e) => e.nextAt <= now()).length;
    return { sinks: list, outbox: { waiting: waiting.length, due, ...(waiting.length > 0 && { nextTry: new Date(Math.min(...waiting.map((e) => e.nextAt))).toISOString() }) } };
  } catch {
    return { sinks: list, outbox: { unavailable: 'the outbox could not be read from the store' } };
  }
}

/** The cluster's own node budget (purchases/purchase-reads.ts), its cooldown as a date. */
async function nodeBudgetSummary({ store, now }: HealthDeps, cluster: ClusterConfig): Promise<Record<string, unknown>> {
  try {
    const budget = await nodeBudgetNow(store, cluster, now());
    return { ...budget, ...(budget.cooldownUntil !== undefined && { cooldownUntil: new Date(budget.cooldownUntil).toISOString() }) };
  } catch {
    // The store's own message names its host: the log line has it, this body does not.
    return { unavailable: 'the node budget could not be read from the store' };
  }
}

/** At most this many purchase records a cluster's summary reads (newest first); beyond, it says `partial`. */
const SUMMARY_READS = 200;

/**
 * Per ClusterId, what the function bought lately (core/purchase.ts): purchases not ended, nodes
 * still joining, and purchases that failed or were cleaned up in the last day. Only the records of
 * open purchases and of those ended within the day are read, newest first, at most SUMMARY_READS.
 */
async function purchasesByCluster({ store, config, now }: HealthDeps): Promise<Map<string, Record<string, unknown>>> {
  const summaries = new Map<string, Record<string, unknown>>();
  const dayAgo = now() - 86_400_000;
  for (const cluster of config.clusters.values()) {
    const entries = (await indexedPurchases(store, cluster.clusterId)).filter((e) => e.endedAt === undefined || e.endedAt >= dayAgo);
    const recent = [...entries].sort((a, b) => b.at - a.at).slice(0, SUMMARY_READS);
    let joiningNodes = 0;
    let failedLastDay = 0;
    let cleanedNodesLastDay = 0;
    for (const entry of recent) {
      const record = await readPurchase(store, cluster.clusterId, entry.id);
      if (record === undefined) continue;
      const instances = Object.values(record.instances ?? {});
      if (record.endedAt === undefined) joiningNodes += record.instanceIds.length === 0 ? 0 : record.instanceIds.length - instances.filter((i) => i.state === 'running' || i.cleanup !== undefined || i.state === 'gone').length;
      if (record.failedReason !== undefined && (record.lastFollowedAt ?? record.requestedAt) >= dayAgo && instances.some((i) => i.cleanup !== undefined || i.state === 'failed')) failedLastDay++;
      cleanedNodesLastDay += instances.filter((i) => i.cleanedAt !== undefined && i.cleanedAt >= dayAgo && i.cleanup !== 'unmarked').length;
    }
    summaries.set(cluster.clusterId, {
      open: entries.filter((e) => e.endedAt === undefined).length,
      joiningNodes,
      failedLastDay,
      cleanedNodesLastDay,
      ...(entries.length > SUMMARY_READS && { partial: `the newest ${SUMMARY_READS} of ${entries.length} purchases were read` }),
    });
  }
  return summaries;
}

/** The offerings marked sold out now, shared by every instance (core/sold-out.ts). */
async function soldOutSummary({ store, now }: HealthDeps): Promise<unknown[]> {
  const state = await store.update<SoldOutState, SoldOutState | undefined>(SOLD_OUT_KEY, readValue);
  return liveMarks(state, now()).map((m) => ({ ...m, at: new Date(m.at).toISOString(), until: new Date(m.until).toISOString() }));
}

/** A money budget's limits and what its window has left (core/cost-budget.ts). */
async function budgetSummary({ store, now }: HealthDeps, scope: CostScope): Promise<Record<string, unknown>> {
  const { budget } = scope;
  try {
    const state = await store.update<CostState, CostState | undefined>(scope.key, readValue);
    return { ...budget, left: costLeft(state, budget, now()) };
  } catch (error) {
    return { ...budget, left: { unavailable: (error as Error).message } };
  }
}
