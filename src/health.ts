import type { Authenticate } from './auth/authenticators';
import type { Config } from './config/load-config';
import { clusterCostScope, costLeft, deploymentCostScope, readCost, type CostScope, type CostState } from './core/cost-budget';
import { rungCountOf } from './core/rungs';
import { liveMarks, readSoldOut, SOLD_OUT_KEY, type SoldOutState } from './core/sold-out';
import type { WebhookRequest } from './http/webhook-request';
import type { StateStore } from './store/state-store';
import type { PriceApi } from './tencentcloud/cvm-pricing';
import type { TkeApi } from './tke/tke-api';

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
  return {
    ...status,
    clusters: Object.fromEntries(
      await Promise.all(
        [...config.clusters.values()].map(async (c) => {
          const own = clusterCostScope(c);
          return [c.alias, { clusterId: c.clusterId, region: c.region, throttle: c.throttle, ...(own !== undefined && { costBudget: await budgetSummary(deps, own) }) }];
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
  };
}

/** The offerings marked sold out now, shared by every instance (core/sold-out.ts). */
async function soldOutSummary({ store, now }: HealthDeps): Promise<unknown[]> {
  const state = await store.update<SoldOutState, SoldOutState | undefined>(SOLD_OUT_KEY, readSoldOut);
  return liveMarks(state, now()).map((m) => ({ ...m, at: new Date(m.at).toISOString(), until: new Date(m.until).toISOString() }));
}

/** A money budget's limits and what its window has left (core/cost-budget.ts). */
async function budgetSummary({ store, now }: HealthDeps, scope: CostScope): Promise<Record<string, unknown>> {
  const { budget } = scope;
  try {
    const state = await store.update<CostState, CostState | undefined>(scope.key, readCost);
    return { ...budget, left: costLeft(state, budget, now()) };
  } catch (error) {
    return { ...budget, left: { unavailable: (error as Error).message } };
  }
}
