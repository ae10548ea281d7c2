import type { Config } from '../config/load-config';
import { adoptCost, costLeft, costScopesOf, readCost, reserveCost, settleCost, usedOf, type CostDecision, type CostGrant, type CostScope, type CostState } from '../core/cost-budget';
import { describeStep, rungCountOf, type LadderPlan, type RungPreview, type RungStep } from '../core/rungs';
import type { CostKind } from '../core/model';
import type { Price } from '../core/price';
import { renderCreateClusterInstances, type RenderedRequest } from '../core/render';
import type { ResolvedScaleOut } from '../core/scale-out-request';
import { markSoldOut, offeringOf, readSoldOut, soldOutMarkOf, SOLD_OUT_KEY, type SoldOutState } from '../core/sold-out';
import { recordAttempt, type SentRequest, type ThrottleRules, type ThrottleState } from '../core/throttle';
import { ScaleOutError, SoldOutError, StoreUnavailableError, ThrottledError, TkeCallError } from '../errors';
import type { StateStore } from '../store/state-store';
import { callCreateClusterInstances, type TkeCallOptions, type TkeCallResult } from '../tke/call-tke';
import type { TkeApi } from '../tke/tke-api';
import { capacityCodeOf } from '../tke/tke-errors';
import type { Pricing } from './pricing';

/**
 * Climbs a template's ladder (core/rungs.ts) for one event that holds its claim and node grant:
 *
 *   for each rung, from the one this event last recorded (a redelivery) or the first:
 *     sold out recently (shared memory)?  skip it
 *     money budget?  price the exact request (scale-out/pricing.ts), reserve it; over: skip it
 *     record the rung and its exact request on the event's grant   ◀ before the call, always
 *     call TKE: bought → done; sold out → mark it, give its money back, next rung; else → stop
 *
 * A redelivery re-sends the rung it finds recorded, byte for byte (same ClientToken) and never
 * leaves it: that rung may have bought, and only its own token can tell. So one delivery never has
 * two rungs in an unknown state, and no event buys on two rungs.
 */
export interface ClimbDeps {
  readonly config: Config;
  readonly store: StateStore;
  readonly tke: TkeApi;
  readonly pricing: Pricing;
  readonly now: () => number;
}

export interface ClimbEvent {
  readonly key: string;
  readonly claimId: string;
  readonly timeoutAt: number;
  readonly scope: { readonly key: string; readonly rules: ThrottleRules };
}

export type Climb =
  | { readonly kind: 'created'; readonly call: TkeCallResult; readonly sent: RenderedRequest; readonly nodes: number; readonly steps: readonly RungStep[]; readonly resent: boolean }
  | {
      readonly kind: 'failed';
      readonly error: ScaleOutError;
      /** Whether the last call may have bought: decides what the caller gives back. */
      readonly settlement: 'refused' | 'unknown';
      readonly steps: readonly RungStep[];
      readonly sent?: RenderedRequest;
      readonly nodes: number;
      readonly resent: boolean;
    };

/** Below this much time left, another rung's call could not finish: stop and answer. */
const MIN_RUNG_MS = 500;

export async function climbLadder(
  deps: ClimbDeps,
  resolved: ResolvedScaleOut,
  event: ClimbEvent,
  granted: { readonly nodes: number; readonly resend?: SentRequest },
  callOptions: TkeCallOptions,
): Promise<Climb> {
  const steps: RungStep[] = [];
  try {
    return await climb(deps, resolved, event, granted, callOptions, steps);
  } catch (error) {
    if (!(error instanceof ScaleOutError)) throw error;
    // A price, a reservation or a store write failed before this rung's call (or after its
    // definitive refusal): nothing was bought; the rungs already passed stay in the account.
    return { kind: 'failed', error, settlement: 'refused', steps, nodes: granted.nodes, resent: granted.resend !== undefined };
  }
}

async function climb(
  deps: ClimbDeps,
  resolved: ResolvedScaleOut,
  event: ClimbEvent,
  granted: { readonly nodes: number; readonly resend?: SentRequest },
  callOptions: TkeCallOptions,
  steps: RungStep[],
): Promise<Climb> {
  const { cluster, template } = resolved;
  const scopes = costScopesOf(cluster, deps.config.costBudget);
  // One account, one currency (load-config.ts checks the budgets agree).
  const currency = scopes[0]?.budget.currency;
  const rungs = rungCountOf(template);
  const start = granted.resend?.rung ?? 1;
  let nodes = granted.nodes;
  let overBudget: Extract<CostDecision, { kind: 'over-budget' }> | undefined;
  const soldOut = await deps.store.update<SoldOutState, SoldOutState | undefined>(SOLD_OUT_KEY, readSoldOut);

  for (let rung = start; rung <= rungs; rung++) {
    const resend = rung === start ? granted.resend : undefined;
    let sent: RenderedRequest = resend !== undefined ? { request: resend.request, clientToken: resend.clientToken, rung } : renderCreateClusterInstances({ ...resolved, count: nodes }, rung);
    const offering = offeringOf(cluster.region, sent.request);
    const mark = resend === undefined ? soldOutMarkOf(soldOut, offering, deps.now()) : undefined;
    if (mark !== undefined) {
      steps.push({ rung, ...offering, outcome: 'sold-out-recently', code: mark.code, until: new Date(mark.until).toISOString() });
      continue;
    }

    let price: Price | undefined;
    if (scopes.length > 0) {
      const reserved = await reserveMoney(deps, resolved, event, scopes, sent, nodes, resend !== undefined, callOptions.deadline);
      if (reserved.kind === 'over-budget') {
        overBudget = overBudget === undefined || reserved.decision.retryAt < overBudget.retryAt ? reserved.decision : overBudget;
        steps.push({ rung, ...offering, outcome: 'over-budget', price: { amount: reserved.price.amount, kind: reserved.price.kind, currency: currency! } });
        continue;
      }
      ({ sent, nodes, price } = reserved);
    }
    const priced = price === undefined ? {} : { price: { amount: price.amount, kind: price.kind, currency: currency! } };

    // Recorded BEFORE the call: a crash or a lost answer from here on leaves this exact request for
    // the event's redelivery to send again.
    const recorded = await deps.store.update<ThrottleState, 'recorded' | 'lost'>(event.scope.key, (current) =>
      recordAttempt(current, event.key, event.claimId, { clientToken: sent.clientToken, request: sent.request, rung }, nodes, event.scope.rules, deps.now()),
    );
    if (recorded === 'lost') {
      // Our grant expired and may be another delivery's now: calling could buy twice. Nothing was sent.
      return { kind: 'failed', error: new StoreUnavailableError('this delivery no longer holds its grant (the invocation outlived its deadline); nothing was sent'), settlement: 'refused', steps, nodes, resent: resend !== undefined };
    }

    try {
      const call = await callCreateClusterInstances(deps.tke, cluster.region, sent.request, callOptions);
      steps.push({ rung, ...offering, outcome: 'bought', ...priced, clientToken: sent.clientToken });
      return { kind: 'created', call, sent, nodes, steps, resent: resend !== undefined };
    } catch (error) {
      if (!(error instanceof TkeCallError)) throw error;
      const capacity = error.outcomeUnknown ? undefined : capacityCodeOf(error.tkeCode, error.message);
      const settlement = error.outcomeUnknown ? 'unknown' : 'refused';
      if (capacity === undefined) {
        steps.push({ rung, ...offering, outcome: settlement, code: error.tkeCode, ...priced, clientToken: sent.clientToken });
        return { kind: 'failed', error, settlement, steps, sent, nodes, resent: resend !== undefined };
      }
      steps.push({ rung, ...offering, outcome: 'sold-out', code: capacity, ...priced, clientToken: sent.clientToken });
      await deps.store.update<SoldOutState, void>(SOLD_OUT_KEY, (current) => markSoldOut(current, offering, capacity, deps.now(), deps.config.capacity.soldOutSeconds * 1000));
      // A re-sent rung may have bought before (its outcome was unknown, or its delivery died): never
      // leave it for another. Nor go on without the time for another call.
      const stop =
        resend !== undefined
          ? 'the rung this event was already sent on (it may have bought there, so the ladder stays on it)'
          : rung === rungs
            ? 'every rung of the ladder'
            : callOptions.deadline - deps.now() < MIN_RUNG_MS
              ? `the rungs there was time for (${rungs - rung} left untried)`
              : undefined;
      if (stop !== undefined) {
        // One rung tried, and TKE's own answer already says "retry later": it says it best (its
        // code, RequestId, Retry-After). Otherwise (several rungs, or CVM's code inside TKE's
        // CvmCommon, a 502) the answer is SoldOut with every rung and why.
        const answered = steps.length === 1 && error.status === 503 ? error : soldOutError(stop, steps, deps, error);
        return { kind: 'failed', error: answered, settlement: 'refused', steps, sent, nodes, resent: resend !== undefined };
      }
      await giveMoneyBack(deps, event, scopes);
    }
  }

  // Every rung left was skipped: sold out recently, or over the money budget.
  const now = deps.now();
  if (overBudget !== undefined) {
    return { kind: 'failed', error: new ThrottledError('cost-budget', overBudget.detail, overBudget.retryAt, now), settlement: 'refused', steps, nodes, resent: false };
  }
  return { kind: 'failed', error: soldOutError('every rung of the ladder', steps, deps), settlement: 'refused', steps, nodes, resent: false };
}

/** Every rung is out of reach: each one, and why; Retry-After until the first sold-out mark expires. */
function soldOutError(scope: string, steps: readonly RungStep[], deps: ClimbDeps, last?: TkeCallError): SoldOutError {
  const now = deps.now();
  const until = steps.map((s) => (s.until !== undefined ? Date.parse(s.until) : now + deps.config.capacity.soldOutSeconds * 1000));
  const detail = steps.map(describeStep).join('; ');
  return new SoldOutError(scope, detail + (last?.requestId !== undefined ? ` (last TKE RequestId ${last.requestId})` : ''), Math.min(...until), now);
}

type MoneyReservation =
  | { readonly kind: 'granted'; readonly sent: RenderedRequest; readonly nodes: number; readonly price: Price }
  | { readonly kind: 'over-budget'; readonly decision: Extract<CostDecision, { kind: 'over-budget' }>; readonly price: Price };

/**
 * Prices the rung's exact request and reserves it in every money budget it falls under (the
 * cluster's, the deployment's), each atomically in its own ledger; refused by one, what the others
 * reserved for it is given back. Over a budget, a template that allows clamping buys fewer nodes:
 * the count the price per node leaves room for, priced again exactly (CVM prices a request as a
 * whole). A re-sent request is never changed: it takes over the reservations made when it was first sent.
 */
async function reserveMoney(
  deps: ClimbDeps,
  resolved: ResolvedScaleOut,
  event: ClimbEvent,
  scopes: readonly CostScope[],
  sent: RenderedRequest,
  nodes: number,
  resend: boolean,
  deadline: number,
): Promise<MoneyReservation> {
  if (resend) {
    const adopted: Array<CostGrant | undefined> = [];
    for (const scope of scopes) {
      adopted.push(await deps.store.update<CostState, CostGrant | undefined>(scope.key, (current) => adoptCost(current, event.key, event.claimId, event.timeoutAt, scope.budget, deps.now())));
    }
    const own = adopted[0];
    if (own !== undefined && adopted.every((a) => a !== undefined)) return { kind: 'granted', sent, nodes, price: { kind: own.kind, amount: own.amount } };
  }
  const reserveAll = async (request: RenderedRequest): Promise<{ price: Price; over?: Extract<CostDecision, { kind: 'over-budget' }> }> => {
    const price = await deps.pricing.priceOf(resolved.cluster.region, request.request, deadline);
    const reserved: CostScope[] = [];
    for (const scope of scopes) {
      const decision = await deps.store.update<CostState, CostDecision>(scope.key, (current) =>
        reserveCost(current, { eventKey: event.key, claimId: event.claimId, price, inFlightUntil: event.timeoutAt }, scope.budget, deps.now()),
      );
      if (decision.kind === 'over-budget') {
        await giveMoneyBack(deps, event, reserved);
        return { price, over: { ...decision, detail: `${scope.name}: ${decision.detail}` } };
      }
      reserved.push(scope);
    }
    return { price };
  };
  const first = await reserveAll(sent);
  if (first.over === undefined) return { kind: 'granted', sent, nodes, price: first.price };
  const limit = first.over.limit;
  if (resend || !resolved.template.count.clamp || limit === undefined || nodes <= 1) return { kind: 'over-budget', decision: first.over, price: first.price };
  const perNode = first.price.amount / nodes;
  const fits = perNode > 0 ? Math.floor((limit - first.over.used) / perNode) : 0;
  if (fits < 1 || fits >= nodes) return { kind: 'over-budget', decision: first.over, price: first.price };
  const fewer = renderCreateClusterInstances({ ...resolved, count: fits }, sent.rung);
  const second = await reserveAll(fewer);
  return second.over === undefined ? { kind: 'granted', sent: fewer, nodes: fits, price: second.price } : { kind: 'over-budget', decision: second.over, price: second.price };
}

/** A rung not bought (sold out, or over another budget): its reservations go back. */
async function giveMoneyBack(deps: ClimbDeps, event: ClimbEvent, scopes: readonly CostScope[]): Promise<void> {
  for (const scope of scopes) {
    await deps.store.update<CostState, void>(scope.key, (current) => settleCost(current, event.key, event.claimId, 'refused', scope.budget, deps.now()));
  }
}

/**
 * A dry run's plan: every rung rendered (with its own ClientToken), whether the shared memory has it
 * sold out, its price when the cluster has a money budget (InquiryPriceRunInstances is read-only),
 * and what the budget leaves. Nothing is reserved, recorded or bought.
 */
export async function planLadder(deps: ClimbDeps, resolved: ResolvedScaleOut, deadline: number): Promise<LadderPlan> {
  const { cluster } = resolved;
  const scopes = costScopesOf(cluster, deps.config.costBudget);
  const now = deps.now();
  const soldOut = await deps.store.update<SoldOutState, SoldOutState | undefined>(SOLD_OUT_KEY, readSoldOut);
  const ledgers: Array<{ scope: CostScope; state: CostState | undefined }> = [];
  for (const scope of scopes) ledgers.push({ scope, state: await deps.store.update<CostState, CostState | undefined>(scope.key, readCost) });
  const rungs: RungPreview[] = [];
  for (let rung = 1; rung <= rungCountOf(resolved.template); rung++) {
    const rendered = renderCreateClusterInstances(resolved, rung);
    const offering = offeringOf(cluster.region, rendered.request);
    const mark = soldOutMarkOf(soldOut, offering, now);
    let preview: RungPreview = { rung, ...offering, clientToken: rendered.clientToken, ...(mark !== undefined && { soldOutUntil: new Date(mark.until).toISOString(), wouldSkip: 'sold-out-recently' as const }) };
    if (scopes.length > 0) {
      try {
        const price = await deps.pricing.priceOf(cluster.region, rendered.request, deadline);
        const over = ledgers.some(({ scope, state }) => {
          const limit = scope.budget[price.kind];
          return limit === undefined || usedOf(state ?? { grants: [] }, price.kind) + price.amount > limit;
        });
        preview = { ...preview, price: { amount: price.amount, kind: price.kind, currency: scopes[0]!.budget.currency }, ...(over && preview.wouldSkip === undefined && { wouldSkip: 'over-budget' as const }) };
      } catch (error) {
        if (!(error instanceof ScaleOutError)) throw error;
        preview = { ...preview, priceUnavailable: error.message };
      }
    }
    rungs.push(preview);
  }
  return { rungs, ...(scopes.length > 0 && { budgetLeft: { currency: scopes[0]!.budget.currency, ...leastLeft(ledgers, now) } }) };
}

/** What the next purchase may still commit, per kind: the tightest of the budgets it falls under. */
function leastLeft(ledgers: ReadonlyArray<{ scope: CostScope; state: CostState | undefined }>, now: number): Partial<Record<CostKind, number>> {
  const least: Partial<Record<CostKind, number>> = {};
  for (const { scope, state } of ledgers) {
    for (const [kind, left] of Object.entries(costLeft(state, scope.budget, now)) as Array<[CostKind, number]>) {
      least[kind] = Math.min(least[kind] ?? Infinity, left);
    }
  }
  return least;
}
