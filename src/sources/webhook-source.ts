import type { FollowUpJob } from './chat/follow-up';
import type { Conversation } from '../notify/conversation';
import type { ConversationPoster } from '../notify/sinks/conversation';
import type { ScaleOutAnswer } from '../core/idempotency';
import type { ClusterStatus } from '../core/purchase';
import type { ReleaseRequest } from '../core/release';
import type { SignatureUse } from '../core/signature-binding';
import type { ScaleOutStatus } from '../http/scale-out-answer';
import type { RefusedScaleOut, ScaleOutRequest } from '../core/scale-out-request';
import type { ScaleOutError } from '../errors';
import type { HttpAnswer, WebhookRequest } from '../http/webhook-request';
import type { IgnoredAlert } from '../rules/alert';
import type { CreateClusterInstancesRequest } from '../tke/tke-params';

/**
 * One sender (Alertmanager, Grafana, a chat bot, the generic JSON call) behind one interface: each
 * lives in its own file in this folder and is chosen by name in `sources/index.ts`.
 *
 * The pipeline calls `authenticate` on the raw request before anything is parsed, then
 * `interpret`, runs every scale-out it asks for through the shared decide → render → call path
 * (which knows nothing of the sender's format), and hands the outcomes back to `answer`, which
 * answers the way the sender's retry rules need (docs/DESIGN.md, "Answers per sender").
 */
export interface WebhookSource {
  /** The `<source>` in `/hooks/<source>`. */
  readonly name: string;
  /** HTTP methods it takes; POST when absent (Tencent Cloud Monitor's URL check may be another). */
  readonly methods?: readonly string[];
  /** Throws UnauthorizedError (401) or SenderNotConfiguredError (503). `now` is epoch ms. */
  authenticate(request: WebhookRequest, now: number): void;
  /** Throws BadRequestError / UnsupportedMediaTypeError for a payload that is not this sender's shape. */
  interpret(request: WebhookRequest, now: number): Interpretation | Promise<Interpretation>;
  /** `context`: what `interpret` set aside for the answer (Tencent Cloud Monitor's sessionId). */
  answer(outcomes: readonly ScaleOutOutcome[], ignored: readonly IgnoredAlert[], context?: Readonly<Record<string, unknown>>, releases?: readonly ReleaseOutcome[]): HttpAnswer | Promise<HttpAnswer>;
  /**
   * For a sender whose signature does not cover the body (DingTalk): the signature's use, which the
   * app binds to this body in the store (core/signature-binding.ts). Called after `authenticate`.
   */
  signatureUse?(request: WebhookRequest, now: number): SignatureUse | undefined;
  /** Says what became of asks to give nodes back (a sender that interprets `scale-in`). */
  answerRelease?(outcomes: readonly ReleaseOutcome[], context?: Readonly<Record<string, unknown>>): HttpAnswer | Promise<HttpAnswer>;
  /** Says what `status` found, in the sender's terms (a sender that interprets `status`). */
  answerStatus?(statuses: readonly ClusterStatus[], now: number, context?: Readonly<Record<string, unknown>>): Promise<HttpAnswer>;
  /**
   * Finishes a scale-out an earlier delivery handed off because TKE had not answered by the
   * sender's deadline (sources/chat/follow-up.ts): `run` takes it through the lifecycle again (same event,
   * same ClientToken), and the source posts the outcome where the job says.
   */
  completeFollowUp?(job: FollowUpJob, run: (request: ScaleOutRequest) => Promise<ScaleOutOutcome>): Promise<{ readonly outcome: ScaleOutOutcome; readonly note?: string }>;
  /**
   * Set for a sender that never retries a failed delivery within its flush (Grafana): TKE attempts
   * in all for its scale-outs, so the function's own retries make up for it within its time.
   */
  readonly maxTkeAttempts?: number;
  /** The sender gives up after this long (Slack: 3 s): TKE calls are cut short to answer in time. */
  readonly answerWithinMs?: number;
  /**
   * A chat sender: the conversation a command came from, so that its purchase's later news is
   * posted there (notify/conversation.ts): read from what `interpret` set aside, and posted to
   * through the platform's own reply path.
   */
  readonly conversation?: {
    of(context: Readonly<Record<string, unknown>> | undefined): Conversation | undefined;
    readonly post: ConversationPoster;
  };
}

export type Interpretation =
  /** Zero or more scale-outs (zero: everything was ignored, e.g. resolved alerts). */
  | {
      readonly kind: 'scale-out';
      readonly requests: readonly ScaleOutRequest[];
      readonly ignored?: readonly IgnoredAlert[];
      /**
       * Scale-outs the payload asks for that cannot be planned (an alert whose count annotation is
       * not a number): each is answered and logged as refused, and the rest of the delivery goes on.
       */
      readonly refused?: readonly RefusedScaleOut[];
      /** Handed to `answer` as it is (e.g. a session ID the sender wants echoed). */
      readonly answerContext?: Readonly<Record<string, unknown>>;
      /** Asks to give nodes back the same delivery makes (a scale-in rule's low alarm, a release on resolution). */
      readonly releases?: readonly ReleaseRequest[];
      /** Rules whose waiting releases on resolution are withdrawn: their alarm fires again. */
      readonly withdraw?: ReadonlyArray<{ readonly rule: string; readonly cluster: string }>;
    }
  /** A protocol answer that involves no scale-out: a URL challenge, a help text. */
  | { readonly kind: 'answer'; readonly answer: HttpAnswer; readonly note: string }
  /** A question about what was bought (chat `/scaleout status`): the app reads it, `answerStatus` says it. */
  | { readonly kind: 'status'; readonly cluster?: string; readonly answerContext?: Readonly<Record<string, unknown>> }
  /** Asks to give nodes back (core/release.ts): the app queues them for the pass, `answerRelease` says so. */
  | { readonly kind: 'scale-in'; readonly asks: readonly ReleaseRequest[]; readonly answerContext?: Readonly<Record<string, unknown>> };

/** What became of an ask to give nodes back: queued for the pass, known already, what a dry run would do, or refused. */
export type ReleaseOutcome =
  | { readonly ok: true; readonly request: ReleaseRequest; readonly status: 'release-requested' | 'replayed' }
  | { readonly ok: true; readonly request: ReleaseRequest; readonly status: 'dry-run'; readonly plan: { readonly wouldRelease: readonly string[]; readonly held: ReadonlyArray<{ readonly instanceId: string; readonly reason: string; readonly detail: string }> } }
  | { readonly ok: false; readonly request: ReleaseRequest; readonly error: ScaleOutError };

export type ScaleOutOutcome =
  | {
      readonly ok: true;
      readonly request: ScaleOutRequest;
      readonly status: ScaleOutStatus;
      readonly answer: ScaleOutAnswer;
      /** Dry runs only: what would have been sent. */
      readonly preview?: CreateClusterInstancesRequest;
    }
  | {
      readonly ok: false;
      readonly request: ScaleOutRequest;
      readonly error: ScaleOutError;
      /** Set once the request was resolved: the token a caller can look the purchase up by. */
      readonly clientToken?: string;
    };

export type { RefusedScaleOut } from '../core/scale-out-request';
