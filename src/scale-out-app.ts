import { randomUUID } from 'node:crypto';
import type { Authenticate } from './auth/authenticators';
import type { Config } from './config/load-config';
import { bindSignature, type SignatureRecord, type SignatureVerdict } from './core/signature-binding';
import { NotFoundError, ScaleOutError, StoreMisconfiguredError, TkeCallError, UnauthorizedError } from './errors';
import { conversationKeyOf, rememberConversation, type Conversation } from './notify/conversation';
import { errorAnswer } from './http/error-response';
import { routeOf } from './http/routes';
import type { HttpAnswer, WebhookRequest } from './http/webhook-request';
import type { FollowUpJob } from './sources/chat/follow-up';
import { decisionOfOutcome, decisionOfOutcomes, type DecisionRecord } from './scale-out/decision-record';
import { describeError } from './log/describe-error';
import { refusedOutcome, runScaleOut, type LifecycleDeps, type LifecycleTimes, type TracedOutcome } from './scale-out/lifecycle';
import type { ReleaseOutcome, WebhookSource } from './sources/webhook-source';
import type { ClusterConfig } from './core/model';
import type { KubeApi } from './kubernetes/kube-api';
import { askRelease, releaseNodes, withdrawReleases, type ReleaseAskDeps } from './purchases/release-pass';
import type { StateStore } from './store/state-store';
import type { TkeApi } from './tke/tke-api';
import { healthBody, type TkeMode } from './health';
import { followPurchases as followPurchasesPass, type PassReport } from './purchases/follow-pass';
import { clusterStatuses } from './purchases/cluster-status';
import { budgetLeftNow } from './purchases/purchase-reads';
import { purchaseList } from './purchases/purchase-list';
import { createPricing } from './scale-out/pricing';
import type { CvmApi, PriceApi } from './tencentcloud/cvm-api';
import type { NoticeLog, Notifier } from './notify/notifier';
import type { Notice } from './core/notice';
import type { Sink } from './notify/sinks/sink';

export type { DecisionRecord } from './scale-out/decision-record';
export type { TkeMode } from './health';

/**
 * The whole path of one request: route → verify → interpret → each scale-out's lifecycle → answer.
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
  /**
   * Checks the bearer token that unlocks the config summary on /healthz (`health.tokenEnv`);
   * absent, the summary is shown to no one.
   */
  readonly healthAuth?: Authenticate;
  /** CVM's price inquiry, when the config has a money budget (tencentcloud/cvm-api.ts). */
  readonly prices?: PriceApi;
  /**
   * CVM's view of the instances the function bought (their marks, their charge type), for the pass
   * that follows purchases: without it the pass reads and records but never deletes anything.
   */
  readonly cvm?: Pick<CvmApi, 'describeInstances'>;
  /** The sinks `notify.sinks` names (notify/sinks/index.ts); without them, or without `notify:`, no notices. */
  readonly sinks?: ReadonlyMap<string, Sink>;
  /** A cluster's Kubernetes API, to give nodes back (kubernetes/kube-api.ts); absent: nodes are never given back. */
  readonly kubeFor?: (cluster: ClusterConfig) => KubeApi | undefined;
}

/** This invocation's times (scf/http-request.ts fixes them from SCF's context). */
export interface Invocation extends LifecycleTimes {}

/** What the app answers, and the fields of the request's log line (written by scf/decision-log.ts). */
export interface HandledRequest {
  readonly answer: HttpAnswer;
  readonly decision: DecisionRecord;
}

export interface ScaleOutApp {
  readonly config: Config;
  readonly now: () => number;
  handle(request: WebhookRequest, invocation: Invocation): Promise<HandledRequest>;
  /** Finishes a chat scale-out an earlier invocation handed off (sources/chat/follow-up.ts); the log line's fields. */
  followUp(job: FollowUpJob, invocation: Invocation): Promise<DecisionRecord>;
  /** One pass following what the function bought (the timer trigger; purchases/follow-pass.ts); its log line. */
  followPurchases(invocation: Invocation): Promise<PassReport | { readonly outcome: 'failed'; readonly error: ReturnType<typeof describeError> }>;
}


export function createScaleOutApp(deps: ScaleOutAppDeps): ScaleOutApp {
  const { config, sources, store, tke, now } = deps;
  const pricing = createPricing({ config, store, prices: deps.prices, now });
  const lifecycle: LifecycleDeps = { config, store, tke, now, newClaimId: deps.newClaimId ?? randomUUID, pricing, ...(deps.kubeFor !== undefined && { kubeFor: deps.kubeFor }) };
  const newClaimId = deps.newClaimId ?? randomUUID;
  const sinks = deps.sinks ?? new Map();
  // Built on the first notice to tell, its modules required then (as each sender on its first use):
  // an instance with nothing to tell neither loads nor caches them.
  let notifier: Notifier | undefined;
  const notifierOf = (): Notifier | undefined =>
    sinks.size === 0
      ? undefined
      : (notifier ??= (require('./notify/on-demand') as typeof import('./notify/on-demand')).createNotifier(config, store, sinks, now, async (alias) => {
          const cluster = config.clusters.get(alias);
          return cluster === undefined ? undefined : budgetLeftNow(store, config, cluster, now());
        }));
  const sendWithinMs = config.notify?.sendWithinMs ?? 0;
  // What giving nodes back needs (purchases/release-pass.ts): a sender's ask, and the pass.
  const releasing: ReleaseAskDeps = { config, store, tke, now, kubeFor: deps.kubeFor ?? (() => undefined) };

  /**
   * The notices of what a request did, posted within `notify.sendWithinMs` and never past the
   * sender's own deadline (a chat's 3 s): what is not posted by then waits for the timer pass.
   * The lifecycle made a notice only if anyone hears it (notify/news.ts, anyoneListens).
   */
  async function tell(outcomes: readonly TracedOutcome[], deadline: number): Promise<{ notices?: NoticeLog }> {
    const notices = outcomes.flatMap((o) => (o.notice !== undefined ? [o.notice] : []));
    const told = notices.length === 0 ? undefined : notifierOf();
    if (told === undefined) return {};
    const until = Math.min(now() + sendWithinMs, deadline);
    // Bounded as a whole, store steps included: what is not done by then is the pass's (a notice
    // listed and not yet queued is dropped by the pass; at worst one is lost, never the answer).
    const log = await Promise.race([told.tell(notices, until, newClaimId()), delay(Math.max(0, until - now()) + TELL_MARGIN_MS, { problems: ['notifying took longer than notify.sendWithinMs: the rest is left to the pass'] })]);
    return log === undefined ? {} : { notices: log };
  }

  async function handle(request: WebhookRequest, invocation: Invocation): Promise<HandledRequest> {
    let sourceName: string | undefined;
    try {
      const route = routeOf(request.method, request.path, (name) => sources.get(name)?.methods ?? ['POST']);
      if (route.kind === 'healthz') return { answer: { status: 200, body: await healthBody(deps, request) }, decision: { outcome: 'health' } };
      if (route.kind === 'purchases') return { answer: { status: 200, body: await purchaseList(deps, request) }, decision: { outcome: 'purchases' } };
      sourceName = route.source;
      const source = senderFor(route.source);

      source.authenticate(request, now());
      await storeUsable();
      await bindSignatureToBody(source, request);
      const times = timesFor(source, invocation);
      const interpretation = await source.interpret(request, now());
      if (interpretation.kind === 'answer') {
        return noted(interpretation.answer, { source: source.name, outcome: 'answered', note: interpretation.note });
      }
      if (interpretation.kind === 'status') {
        if (source.answerStatus === undefined) throw new NotFoundError('UnknownQuestion', `sender ${source.name} answers no status`);
        const statuses = await clusterStatuses({ config, store, now }, interpretation.cluster);
        return noted(await source.answerStatus(statuses, now(), interpretation.answerContext), { source: source.name, outcome: 'answered', note: 'status' });
      }

      if (interpretation.kind === 'scale-in') {
        if (source.answerRelease === undefined) throw new NotFoundError('UnknownQuestion', `sender ${source.name} takes no scale-in`);
        const outcomes = await Promise.all(interpretation.asks.map((ask) => askRelease(releasing, ask)));
        return noted(await source.answerRelease(outcomes, interpretation.answerContext), { source: source.name, outcome: 'answered', note: 'scale-in', scaleIn: outcomes.map(releaseLogOf) });
      }
      const ignored = interpretation.ignored ?? [];
      const outcomes: TracedOutcome[] = (interpretation.refused ?? []).map((r) => refusedOutcome(r.request, r.error));
      // One at a time: scale-outs of one delivery usually share a cluster, whose throttle would
      // only make concurrent ones wait on each other.
      for (const asked of interpretation.requests) outcomes.push(await runScaleOut(lifecycle, asked, times));

      await rememberConversations(source, outcomes, interpretation.answerContext);
      // A rule's alarm firing again withdraws its waiting releases on resolution (the need is back);
      // a low alarm's asks to give nodes back (a scale-in rule) are queued for the pass.
      await withdrawReleases(releasing, interpretation.withdraw ?? []);
      const releases = await Promise.all((interpretation.releases ?? []).map((ask) => askRelease(releasing, ask)));
      const told = await tell(outcomes, times.deadline);
      const answer = await source.answer(outcomes, ignored, interpretation.answerContext, releases);
      const decision: DecisionRecord =
        outcomes.length === 0 ? { outcome: releases.length > 0 ? 'answered' : 'ignored' } : decisionOfOutcomes(outcomes);
      return noted(answer, { source: source.name, ...decision, ...(ignored.length > 0 && { ignored }), ...(releases.length > 0 && { scaleIn: releases.map(releaseLogOf) }), ...told });
    } catch (error) {
      if (!(error instanceof ScaleOutError)) throw error; // a bug: the middleware answers 500 and logs the stack
      return {
        answer: errorAnswer(error),
        decision: { ...(sourceName !== undefined && { source: sourceName }), outcome: error.status >= 500 ? 'failed' : 'rejected', error: describeError(error) },
      };
    }
  }

  /**
   * A chat command that bought (or may have) is followed in its conversation: remembered per
   * purchase, for its later news (notify/conversation.ts). A store failure only loses those posts.
   */
  async function rememberConversations(source: WebhookSource, outcomes: readonly TracedOutcome[], context: Readonly<Record<string, unknown>> | undefined): Promise<void> {
    const conversation = source.conversation?.of(context);
    if (conversation === undefined) return;
    for (const o of outcomes) {
      const mayHaveBought = o.ok ? o.status === 'created' : o.error instanceof TkeCallError && o.error.outcomeUnknown;
      const { clusterId, purchaseId } = o.trace;
      if (!mayHaveBought || clusterId === undefined || purchaseId === undefined) continue;
      await store.update<Conversation, void>(conversationKeyOf(clusterId, purchaseId), (current) => rememberConversation(current, conversation, now())).catch((error: unknown) => {
        if (!(error instanceof ScaleOutError)) throw error;
      });
    }
  }

  async function followUp(job: FollowUpJob, invocation: Invocation): Promise<DecisionRecord> {
    const base: DecisionRecord = { source: job.source, followUp: true };
    try {
      const source = senderFor(job.source);
      if (source.completeFollowUp === undefined) throw new NotFoundError('UnknownSource', `sender ${job.source} takes no follow-ups`);
      await storeUsable();
      const { outcome, note } = await source.completeFollowUp(job, (request) => runScaleOut(lifecycle, request, invocation));
      const told = await tell([outcome as TracedOutcome], invocation.deadline);
      return { ...base, ...decisionOfOutcome(outcome as TracedOutcome), ...(note !== undefined && { replyNote: note }), ...told };
    } catch (error) {
      if (!(error instanceof ScaleOutError)) throw error;
      return { ...base, outcome: error.status >= 500 ? 'failed' : 'rejected', error: describeError(error) };
    }
  }

  function senderFor(name: string): WebhookSource {
    const source = sources.get(name);
    if (source === undefined) {
      throw new NotFoundError('UnknownSource', `no sender ${JSON.stringify(name)} is enabled; enabled: ${[...sources.keys()].join(', ') || 'none'}`);
    }
    return source;
  }

  /** The store's backend passed its check (cached by the store): else 503 naming what to fix. */
  async function storeUsable(): Promise<void> {
    const check = await store.check?.();
    if (check?.problem !== undefined) throw new StoreMisconfiguredError(check.problem);
  }

  /** A signature that covers no body authorises the first body it came with, and only that one. */
  async function bindSignatureToBody(source: WebhookSource, request: WebhookRequest): Promise<void> {
    const use = source.signatureUse?.(request, now());
    if (use === undefined) return;
    const verdict = await store.update<SignatureRecord, SignatureVerdict>(use.key, (current) => bindSignature(current, use, now()));
    if (verdict === 'other-body') {
      throw new UnauthorizedError(`this ${source.name} signature was already used for another message; a signature authorises one message`);
    }
  }

  /**
   * A sender that gives up early (a chat platform's 3 s) gets its TKE calls cut short so the answer
   * arrives in time; claims still last until the function's real timeout, since the calls they
   * guard may still be in flight at TKE.
   */
  function timesFor(source: WebhookSource, invocation: Invocation): LifecycleTimes {
    const attempts = source.maxTkeAttempts === undefined ? {} : { maxTkeAttempts: source.maxTkeAttempts };
    if (source.answerWithinMs === undefined) return { ...invocation, ...attempts };
    return { ...invocation, ...attempts, deadline: Math.min(invocation.deadline, now() + source.answerWithinMs) };
  }

  async function followPurchases(invocation: Invocation): Promise<PassReport | { readonly outcome: 'failed'; readonly error: ReturnType<typeof describeError> }> {
    try {
      await storeUsable();
      const passId = newClaimId();
      const notify = notifierOf();
      // A transition's news is queued as soon as its record is written; then the outbox posts what
      // is due, oldest first (a purchase's "bought" before its "ready"), this pass's news with it.
      const queueNews = notify === undefined ? undefined : (notices: readonly Notice[]) => notify.tell(notices, now(), passId);
      const followed = await followPurchasesPass({ config, store, tke, ...(deps.cvm !== undefined && { cvm: deps.cvm }), now, passId, ...(queueNews !== undefined && { queueNews }) }, invocation);
      // Then the nodes being given back, one step each (purchases/release-pass.ts).
      const released = deps.kubeFor === undefined ? [] : await releaseNodes({ ...releasing, passId, ...(queueNews !== undefined && { queueNews }) }, invocation.deadline);
      const report = released.length > 0 ? { ...followed, released } : followed;
      if (notify === undefined) return report;
      const drained = await notify.drain(invocation.deadline, passId);
      return { ...report, ...(drained !== undefined && { outbox: drained }) };
    } catch (error) {
      if (!(error instanceof ScaleOutError)) throw error;
      return { outcome: 'failed', error: describeError(error) };
    }
  }

  return { config, now, handle, followUp, followPurchases };
}

/** A scale-in's part of the log line. */
function releaseLogOf(o: ReleaseOutcome): Record<string, unknown> {
  const r = o.request;
  return { eventId: r.eventId, cluster: r.cluster, count: r.count, ...(o.ok ? { status: o.status, ...(o.status === 'dry-run' && { wouldRelease: o.plan.wouldRelease }) } : { error: describeError(o.error) }) };
}

/** What a request's notifying may take beyond `notify.sendWithinMs`: its store steps after the posts. */
const TELL_MARGIN_MS = 300;

/** Resolves to `value` after `ms`, without holding the process open. */
function delay<T>(ms: number, value: T): Promise<T> {
  return new Promise((resolve) => setTimeout(resolve, ms, value).unref());
}

/** An answer's note (e.g. a chat reply that could not be posted) goes to the log line (`replyNote`), not to the sender. */
function noted(answer: HttpAnswer, decision: DecisionRecord): HandledRequest {
  if (answer.note === undefined) return { answer, decision };
  const { note, ...sent } = answer;
  return { answer: sent, decision: { ...decision, replyNote: note } };
}
