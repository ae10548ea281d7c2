import type { Config } from '../config/load-config';
import { adoptCost, costLeft, costScopesOf, leastCostLeft, reserveCost, settleCost, type CostDecision, type CostScope, type CostState } from '../core/cost-budget';
import { recordSent, type IdempotencyRecord, type SentRequest } from '../core/idempotency';
import { indexPurchase, purchaseIndexKeyOf, purchaseKeyOf, purchaseRecordOf, storePurchase, type PurchaseDraft, type PurchaseIndex, type PurchaseRecord } from '../core/purchase';
import type { CostKind } from '../core/model';
import type { Price } from '../core/price';
import { renderCreateClusterInstances, type RenderedRequest } from '../core/render';
import { describeStep, rungCountOf, type LadderPlan, type RungPreview, type RungStep } from '../core/rungs';
import type { ResolvedScaleOut } from '../core/scale-out-request';
import { markSoldOut, offeringOf, soldOutMarkOf, SOLD_OUT_KEY, type Offering, type SoldOutState } from '../core/sold-out';
import { resizeGrant, type ThrottleRules, type ThrottleState } from '../core/throttle';
import { ExceedsLimitError, OfferingSoldOutError, ScaleOutError, SoldOutError, StoreUnavailableError, ThrottledError, TkeCallError } from '../errors';
import type { StateStore } from '../store/state-store';
import { callCreateClusterInstances, type TkeCallOptions, type TkeCallResult } from '../tke/call-tke';
import type { TkeApi } from '../tke/tke-api';
import { capacityCodeOf } from '../tke/tke-errors';
import type { Pricing } from './pricing';
import { readValue } from '../core/store-step';

/**
 * How one event that holds its claim and node grant gets its request to TKE: either it climbs the
 * template's ladder (core/rungs.ts) afresh, or it re-sends what an earlier delivery of the event
 * sent and may have bought.
 *
 *   climb, for each rung from the first:
 *     sold out recently (shared memory)?  skip it
 *     money budget?  price the exact request (scale-out/pricing.ts), reserve it; over: skip it;
 *                    the price inquiry itself says sold out: mark it, skip it
 *     record the exact request on the event's idempotency record   ◀ before the call, always
 *     call TKE: bought → done; sold out → mark it, give its money back, next rung; else → stop
 *
 *   re-send: the recorded request, byte for byte (same ClientToken), counted in the money budgets
 *   again only where its reservation is gone, and never another rung: that request may have
 *   bought, and only its own token can tell. The ladder as it is now plays no part.
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
  /** The purchase this event's call is (core/purchase.ts): recorded before the call. */
  readonly purchase: PurchaseDraft;
}

export type Climb =
  | { readonly kind: 'created'; readonly call: TkeCallResult; readonly sent: SentRequest; readonly steps: readonly RungStep[]; readonly resent: boolean }
  | {
      readonly kind: 'failed';
      readonly error: ScaleOutError;
      /**
       * Whether the call may have bought (any attempt's outcome unknown): decides what the caller
       * gives back. On a re-send `refused` speaks for this sending only (the lifecycle settles it as unknown).
       */
      readonly settlement: 'refused' | 'unknown';
      readonly steps: readonly RungStep[];
      readonly sent?: SentRequest;
      readonly resent: boolean;
    };

/** Below this much time left, another rung's call could not finish: stop and answer. */
const MIN_RUNG_MS = 500;

/** Climbs the ladder from its first rung with the nodes the throttle granted. */
export async function climbLadder(deps: ClimbDeps, resolved: ResolvedScaleOut, event: ClimbEvent, granted: number, callOptions: TkeCallOptions): Promise<Climb> {
  const steps: RungStep[] = [];
  try {
    return await climb(deps, resolved, event, granted, callOptions, steps);
  } catch (error) {
    if (!(error instanceof ScaleOutError)) throw error;
    // A price, a reservation or a store write failed before this rung's call (or after its
    // definitive refusal): nothing was bought; the rungs already passed stay in the account.
    return { kind: 'failed', error, settlement: 'refused', steps, resent: false };
  }
}

/** Sends again exactly what an earlier delivery of this event sent (core/idempotency.ts). */
export async function resendRecorded(deps: ClimbDeps, resolved: ResolvedScaleOut, event: ClimbEvent, sent: SentRequest, callOptions: TkeCallOptions): Promise<Climb> {
  const steps: RungStep[] = [];
  const offering = offeringOf(sent.region, sent.request);
  try {
    const scopes = costScopesOf(resolved.cluster, deps.config.costBudget);
    let priced: Pick<RungStep, 'price'> = {};
    if (scopes.length > 0) {
      const money = await readoptMoney(deps, event, scopes, sent, callOptions.deadline);
      if (money.kind !== 'granted') {
        if (money.kind === 'sold-out') await markOfferingSoldOut(deps, offering, money.code);
        steps.push({ rung: sent.rung, ...offering, outcome: money.kind === 'sold-out' ? 'sold-out' : 'over-budget', ...(money.kind === 'sold-out' && { code: money.code }), clientToken: sent.clientToken });
        const error = money.kind === 'sold-out' ? soldOutError(STAYS, steps, deps) : budgetError([money.decision], deps.now());
        return { kind: 'failed', error, settlement: 'refused', steps, sent, resent: true };
      }
      if (money.price !== undefined) priced = { price: { ...money.price, currency: scopes[0]!.budget.currency } };
      event = withMoneyCounted(event, money.counted);
    }
    const outcome = await send(deps, event, sent, offering, priced, callOptions, steps, { resent: true });
    if (outcome.kind !== 'sold-out') return outcome;
    // TKE's own "retry later" says it best (its code, RequestId, Retry-After); CVM's code inside
    // TKE's CvmCommon (a 502) becomes SoldOut.
    const error = outcome.error.status === 503 ? outcome.error : soldOutError(STAYS, steps, deps, outcome.error);
    return { kind: 'failed', error, settlement: 'refused', steps, sent, resent: true };
  } catch (error) {
    if (!(error instanceof ScaleOutError)) throw error;
    return { kind: 'failed', error, settlement: 'refused', steps, sent, resent: true };
  }
}

/** The event whose purchase also knows where its money is counted. */
function withMoneyCounted(event: ClimbEvent, money: MoneyCounted): ClimbEvent {
  return money.length === 0 ? event : { ...event, purchase: { ...event.purchase, counted: { ...event.purchase.counted, money } } };
}

const STAYS = 'the request this event was already sent with (it may have bought, so it is sent again as it is or not at all)';

async function climb(deps: ClimbDeps, resolved: ResolvedScaleOut, event: ClimbEvent, granted: number, callOptions: TkeCallOptions, steps: RungStep[]): Promise<Climb> {
  const { cluster, template } = resolved;
  const scopes = costScopesOf(cluster, deps.config.costBudget);
  // One account, one currency (the config loader checks the budgets agree).
  const currency = scopes[0]?.budget.currency;
  const rungs = rungCountOf(template);
  let nodes = granted;
  const overBudget: Array<Extract<CostDecision, { kind: 'over-budget' }>> = [];
  const soldOut = await deps.store.update<SoldOutState, SoldOutState | undefined>(SOLD_OUT_KEY, readValue);

  for (let rung = 1; rung <= rungs; rung++) {
    let rendered: RenderedRequest = renderCreateClusterInstances({ ...resolved, count: nodes }, rung);
    const offering = offeringOf(cluster.region, rendered.request);
    const mark = soldOutMarkOf(soldOut, offering, deps.now());
    if (mark !== undefined) {
      steps.push({ rung, ...offering, outcome: 'sold-out-recently', code: mark.code, until: new Date(mark.until).toISOString() });
      continue;
    }

    let priced: Pick<RungStep, 'price'> = {};
    let counted: MoneyCounted = [];
    if (scopes.length > 0) {
      const money = await reserveMoney(deps, resolved, event, scopes, rendered, nodes, callOptions.deadline);
      if (money.kind === 'sold-out') {
        // CVM's price inquiry already knows the offering has no stock: as good as a refused call.
        steps.push({ rung, ...offering, outcome: 'sold-out', code: money.code });
        await markOfferingSoldOut(deps, offering, money.code);
        const stop = stopClimbing(deps, rung, rungs, callOptions);
        if (stop !== undefined) return { kind: 'failed', error: nothingFits(stop, steps, overBudget, deps), settlement: 'refused', steps, resent: false };
        continue;
      }
      if (money.kind === 'over-budget') {
        overBudget.push(money.decision);
        steps.push({ rung, ...offering, outcome: 'over-budget', price: { amount: money.price.amount, kind: money.price.kind, currency: currency! } });
        continue;
      }
      rendered = money.rendered;
      if (money.nodes !== nodes) {
        // The money budget lowered the count: the node grant counts what is asked.
        nodes = money.nodes;
        await deps.store.update<ThrottleState, 'resized' | 'lost'>(event.scope.key, (current) => resizeGrant(current, event.key, event.claimId, nodes, event.scope.rules, deps.now()));
      }
      priced = { price: { amount: money.price.amount, kind: money.price.kind, currency: currency! } };
      counted = money.counted;
    }

    const sent: SentRequest = { clientToken: rendered.clientToken, request: rendered.request, rung, region: cluster.region, nodes };
    const outcome = await send(deps, withMoneyCounted(event, counted), sent, offering, priced, callOptions, steps, { resent: false });
    if (outcome.kind !== 'sold-out') return outcome;
    const stop = stopClimbing(deps, rung, rungs, callOptions);
    if (stop !== undefined) {
      // One rung tried, and TKE's own answer already says "retry later": it says it best (its
      // code, RequestId, Retry-After). Otherwise (several rungs, or CVM's code inside TKE's
      // CvmCommon, a 502) the answer is SoldOut with every rung and why.
      const error = steps.length === 1 && outcome.error.status === 503 ? outcome.error : nothingFits(stop, steps, overBudget, deps, outcome.error);
      return { kind: 'failed', error, settlement: 'refused', steps, sent, resent: false };
    }
    await giveMoneyBack(deps, event, scopes);
  }

  // Every rung left was skipped: sold out (now or recently), or over the money budget.
  return { kind: 'failed', error: nothingFits('every rung of the ladder', steps, overBudget, deps), settlement: 'refused', steps, resent: false };
}

/**
 * Why no rung was bought, answered by whichever frees first: a sold-out rung's mark (503 SoldOut)
 * or a money budget (429). Only when every rung costs more than a whole budget is it 422: a
 * sold-out rung that fits the budget may have stock again once its mark expires, in any order of
 * the rungs.
 */
function nothingFits(scope: string, steps: readonly RungStep[], overBudget: ReadonlyArray<Extract<CostDecision, { kind: 'over-budget' }>>, deps: ClimbDeps, last?: TkeCallError): ScaleOutError {
  const anySoldOut = steps.some((s) => s.outcome === 'sold-out' || s.outcome === 'sold-out-recently');
  if (!anySoldOut) return budgetError(overBudget, deps.now());
  const soldOut = soldOutError(scope, steps, deps, last);
  if (overBudget.length === 0) return soldOut;
  const budget = budgetError(overBudget, deps.now());
  return budget instanceof ThrottledError && (budget.retryAfterSeconds ?? Infinity) < (soldOut.retryAfterSeconds ?? Infinity) ? budget : soldOut;
}

/** Why the climb stops after a sold-out rung, or undefined to go on to the next. */
function stopClimbing(deps: ClimbDeps, rung: number, rungs: number, callOptions: TkeCallOptions): string | undefined {
  if (rung === rungs) return 'every rung of the ladder';
  if (callOptions.deadline - deps.now() < MIN_RUNG_MS) return `the rungs there was time for (${rungs - rung} left untried)`;
  return undefined;
}

/** A call's end: bought, refused or unknown (a Climb), or refused for stock (the caller decides what next). */
type Sent = Climb | { readonly kind: 'sold-out'; readonly error: TkeCallError; readonly sent: SentRequest };

/**
 * Records the request on the event's idempotency record, BEFORE the call (a crash or a lost answer
 * from here on leaves this exact request for the event's next delivery), then calls TKE. A refusal
 * for stock marks the offering sold out for every instance.
 */
async function send(
  deps: ClimbDeps,
  event: ClimbEvent,
  sent: SentRequest,
  offering: Offering,
  priced: Pick<RungStep, 'price'>,
  callOptions: TkeCallOptions,
  steps: RungStep[],
  how: { readonly resent: boolean },
): Promise<Sent> {
  const recorded = await deps.store.update<IdempotencyRecord, 'recorded' | 'lost'>(event.key, (current) =>
    recordSent(current, event.claimId, sent, deps.now(), deps.config.idempotency.ttlSeconds * 1000),
  );
  if (recorded === 'lost') {
    // Our claim expired and may be another delivery's now: calling could buy twice. Nothing was sent.
    return { kind: 'failed', error: new StoreUnavailableError('this delivery no longer holds its claim (the invocation outlived its deadline); nothing was sent'), settlement: 'refused', steps, resent: how.resent };
  }
  // The purchase is the function's from the call on: listed and recorded before it, so that a
  // crash or a lost answer leaves a record to follow. A store that fails here: nothing is sent.
  await recordPurchaseBeforeCall(deps, event, sent, offering, priced.price);
  try {
    const call = await callCreateClusterInstances(deps.tke, sent.region, sent.request, callOptions);
    steps.push({ rung: sent.rung, ...offering, outcome: 'bought', ...priced, clientToken: sent.clientToken });
    return { kind: 'created', call, sent, steps, resent: how.resent };
  } catch (error) {
    if (!(error instanceof TkeCallError)) throw error;
    const capacity = error.outcomeUnknown ? undefined : capacityCodeOf(error.tkeCode, error.message);
    const settlement = error.outcomeUnknown ? 'unknown' : 'refused';
    if (capacity === undefined) {
      steps.push({ rung: sent.rung, ...offering, outcome: settlement, code: error.tkeCode, ...priced, clientToken: sent.clientToken });
      return { kind: 'failed', error, settlement, steps, sent, resent: how.resent };
    }
    steps.push({ rung: sent.rung, ...offering, outcome: 'sold-out', code: capacity, ...priced, clientToken: sent.clientToken });
    await markOfferingSoldOut(deps, offering, capacity);
    return { kind: 'sold-out', error, sent };
  }
}

async function recordPurchaseBeforeCall(deps: ClimbDeps, event: ClimbEvent, sent: SentRequest, offering: Offering, price: RungStep['price']): Promise<void> {
  const now = deps.now();
  const retentionMs = deps.config.purchases.retentionDays * 86_400_000;
  const record = purchaseRecordOf(event.purchase, sent, offering, now, { ...(price !== undefined && { price }) });
  const key = purchaseKeyOf(record.clusterId, record.id);
  const stored = await deps.store.update<PurchaseRecord, PurchaseRecord>(key, (current) => storePurchase(current, record, now, retentionMs));
  await deps.store.update<PurchaseIndex, void>(purchaseIndexKeyOf(record.clusterId), (current) => indexPurchase(current, { id: record.id, clusterId: record.clusterId, at: stored.requestedAt }, now));
}

function markOfferingSoldOut(deps: ClimbDeps, offering: Offering, code: string): Promise<void> {
  return deps.store.update<SoldOutState, void>(SOLD_OUT_KEY, (current) => markSoldOut(current, offering, code, deps.now(), deps.config.capacity.soldOutSeconds * 1000));
}

/**
 * Every rung is out of reach: each one, and why; Retry-After until the first sold-out mark
 * expires, or the sold-out memory's length when no rung carries a time (always a finite time).
 */
function soldOutError(scope: string, steps: readonly RungStep[], deps: ClimbDeps, last?: TkeCallError): SoldOutError {
  const now = deps.now();
  const fallback = now + deps.config.capacity.soldOutSeconds * 1000;
  const until = steps.map((s) => (s.until !== undefined ? Date.parse(s.until) : fallback)).filter((t) => Number.isFinite(t) && t > now);
  const detail = steps.map(describeStep).join('; ');
  return new SoldOutError(scope, detail + (last?.requestId !== undefined ? ` (last TKE RequestId ${last.requestId})` : ''), until.length > 0 ? Math.min(...until) : fallback, now);
}

/**
 * No rung fit the money budgets: 429 until the soonest of them frees enough, or, when none ever
 * could (each costs more than a whole budget, or its charge type has no budget), 422: a retry
 * would only be refused again.
 */
function budgetError(decisions: ReadonlyArray<Extract<CostDecision, { kind: 'over-budget' }>>, now: number): ScaleOutError {
  const waits = decisions.map((d) => d.retryAt).filter((t): t is number => t !== 'never');
  if (waits.length === 0) return new ExceedsLimitError('cost-budget', decisions.map((d) => d.detail).join('; '));
  const soonest = decisions.find((d) => d.retryAt === Math.min(...waits))!;
  return new ThrottledError('cost-budget', soonest.detail, soonest.retryAt as number, now);
}

type MoneyReservation =
  | { readonly kind: 'granted'; readonly rendered: RenderedRequest; readonly nodes: number; readonly price: Price; readonly counted: MoneyCounted }
  | { readonly kind: 'over-budget'; readonly decision: Extract<CostDecision, { kind: 'over-budget' }>; readonly price: Price }
  | { readonly kind: 'sold-out'; readonly code: string };

/**
 * Prices the rung's exact request and reserves it in every money budget it falls under (the
 * cluster's, the deployment's), each atomically in its own ledger; refused by one, what the others
 * reserved for it is given back. Over a budget, a template that allows clamping buys fewer nodes:
 * the count the price per node leaves room for, priced again exactly (CVM prices a request as a
 * whole).
 */
async function reserveMoney(
  deps: ClimbDeps,
  resolved: ResolvedScaleOut,
  event: ClimbEvent,
  scopes: readonly CostScope[],
  rendered: RenderedRequest,
  nodes: number,
  deadline: number,
): Promise<MoneyReservation> {
  const first = await priceAndReserve(deps, resolved.cluster.region, event, scopes, rendered, deadline);
  if (first.kind !== 'over-budget') return first.kind === 'granted' ? { ...first, rendered, nodes } : first;
  const limit = first.decision.limit;
  if (!resolved.template.count.clamp || limit === undefined || nodes <= 1) return first;
  const perNode = first.price.amount / nodes;
  const fits = Math.floor((limit - first.decision.used) / perNode);
  if (!(fits >= 1 && fits < nodes)) return first;
  const fewer = renderCreateClusterInstances({ ...resolved, count: fits }, rendered.rung);
  const second = await priceAndReserve(deps, resolved.cluster.region, event, scopes, fewer, deadline);
  return second.kind === 'granted' ? { ...second, rendered: fewer, nodes: fits } : second;
}

async function priceAndReserve(
  deps: ClimbDeps,
  region: string,
  event: ClimbEvent,
  scopes: readonly CostScope[],
  rendered: { readonly request: RenderedRequest['request'] },
  deadline: number,
): Promise<{ readonly kind: 'granted'; readonly price: Price; readonly counted: MoneyCounted } | Exclude<MoneyReservation, { kind: 'granted' }>> {
  let price: Price;
  try {
    price = await deps.pricing.priceOf(region, rendered.request, deadline);
  } catch (error) {
    if (error instanceof OfferingSoldOutError) return { kind: 'sold-out', code: error.code };
    throw error;
  }
  const reserved: CostScope[] = [];
  const counted: Array<MoneyCounted[number]> = [];
  for (const scope of scopes) {
    const at = deps.now();
    const decision = await deps.store.update<CostState, CostDecision>(scope.key, (current) =>
      reserveCost(current, { eventKey: event.key, claimId: event.claimId, price, inFlightUntil: event.timeoutAt }, scope.budget, at),
    );
    if (decision.kind === 'over-budget') {
      await giveMoneyBack(deps, event, reserved);
      return { kind: 'over-budget', decision: { ...decision, detail: `${scope.name}: ${decision.detail}` }, price };
    }
    reserved.push(scope);
    counted.push({ key: scope.key, at });
  }
  return { kind: 'granted', price, counted };
}

/** Where a purchase's money is counted: each budget's key and the reservation's time (core/purchase.ts, `counted`). */
type MoneyCounted = NonNullable<NonNullable<PurchaseDraft['counted']>['money']>;

/**
 * A re-send takes over the reservations made when its request was first sent. Where one is gone
 * (its window passed), the request is priced and reserved again as it is: never changed, so over
 * a budget it waits (or is refused), it does not shrink.
 */
async function readoptMoney(
  deps: ClimbDeps,
  event: ClimbEvent,
  scopes: readonly CostScope[],
  sent: SentRequest,
  deadline: number,
): Promise<{ readonly kind: 'granted'; readonly price?: Price; readonly counted: MoneyCounted } | Exclude<MoneyReservation, { kind: 'granted' }>> {
  let adopted: Price | undefined;
  const missing: CostScope[] = [];
  const counted: Array<MoneyCounted[number]> = [];
  for (const scope of scopes) {
    const own = await deps.store.update<CostState, ReturnType<typeof adoptCost>['result']>(scope.key, (current) => adoptCost(current, event.key, event.claimId, event.timeoutAt, scope.budget, deps.now()));
    if (own === undefined) missing.push(scope);
    else {
      adopted = { kind: own.kind, amount: own.amount };
      counted.push({ key: scope.key, at: own.at });
    }
  }
  if (missing.length === 0) return { kind: 'granted', ...(adopted !== undefined && { price: adopted }), counted };
  const reserved = await priceAndReserve(deps, sent.region, event, missing, sent, deadline);
  return reserved.kind === 'granted' ? { ...reserved, counted: [...counted, ...reserved.counted] } : reserved;
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
  const soldOut = await deps.store.update<SoldOutState, SoldOutState | undefined>(SOLD_OUT_KEY, readValue);
  const ledgers: Array<{ scope: CostScope; state: CostState | undefined }> = [];
  for (const scope of scopes) ledgers.push({ scope, state: await deps.store.update<CostState, CostState | undefined>(scope.key, readValue) });
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
          const left = costLeft(state, scope.budget, now)[price.kind];
          return left === undefined || price.amount > left;
        });
        preview = { ...preview, price: { amount: price.amount, kind: price.kind, currency: scopes[0]!.budget.currency }, ...(over && preview.wouldSkip === undefined && { wouldSkip: 'over-budget' as const }) };
      } catch (error) {
        if (!(error instanceof ScaleOutError)) throw error;
        preview = { ...preview, priceUnavailable: error.message };
      }
    }
    rungs.push(preview);
  }
  return { rungs, ...(scopes.length > 0 && { budgetLeft: { currency: scopes[0]!.budget.currency, ...leastCostLeft(ledgers, now) } }) };
}

