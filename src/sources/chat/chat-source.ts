import type { Config } from '../../config/load-config';
import type { ChatAllowConfig } from '../../config/schema';
import { findCluster, unknownClusterError } from '../../core/resolve';
import type { ScaleOutRequest } from '../../core/scale-out-request';
import type { ReleaseRequest } from '../../core/release';
import { TkeCallError, UnauthorizedError, UnprocessableError } from '../../errors';
import type { HttpAnswer, WebhookRequest } from '../../http/webhook-request';
import type { Interpretation, ScaleOutOutcome, WebhookSource } from '../webhook-source';
import { parseChatCommand } from './command';
import { followUpJob, isSignedFollowUp, requestOfJob, type FollowUpDispatcher, type ReplyTarget } from './follow-up';
import { followUpText, helpText, notAllowedText, outcomeText, releaseText, statusText } from './replies';

/**
 * What every chat sender shares: who may scale, the command, the reply text, and finishing a
 * command TKE did not answer in time (chat/follow-up.ts). Each platform's file (sources/slack.ts,
 * feishu.ts, dingtalk.ts) only reads its message and writes and posts its reply format.
 */
export interface ChatMessage {
  readonly user: string;
  readonly channel?: string;
  readonly text: string;
  /** The platform's ID for this message or command: trigger_id, event_id, msgId. */
  readonly eventId: string;
  /**
   * Where a reply can be posted later (Slack's response_url, DingTalk's sessionWebhook, Feishu's
   * message to reply to), when the payload names one the platform's configured base allows.
   */
  readonly replyTarget?: ReplyTarget;
}

export type Visibility = 'public' | 'private';

export interface ChatPlatform {
  readonly name: string;
  readonly allow: ChatAllowConfig;
  authenticate: WebhookSource['authenticate'];
  signatureUse?: WebhookSource['signatureUse'];
  /** The message, or a protocol answer (a URL challenge, an event that is not a message). */
  read(request: WebhookRequest, now: number): ChatMessage | { readonly answer: HttpAnswer; readonly note: string };
  /** The platform's reply format. */
  format(text: string, visibility: Visibility): HttpAnswer;
  /**
   * Posts a reply to `target` (a follow-up; for Feishu, every reply). Resolves to why it could not
   * be posted, or undefined. Absent: the platform cannot be replied to later.
   */
  post?(text: string, target: ReplyTarget): Promise<string | undefined>;
  /**
   * True when every reply is posted too, not only answered: Feishu does not show the callback's
   * answer; DingTalk's documented reply path is the message's sessionWebhook. Slack shows the answer.
   */
  readonly postEveryReply: boolean;
  /** The sender's secrets, current first: follow-up jobs are signed with the first, checked against all. */
  readonly secrets: readonly string[];
  /** Overrides CHAT_ANSWER_WITHIN_MS, e.g. to leave time for posting the reply. */
  readonly answerWithinMs?: number;
}

/** Chat platforms give the function 3 s (Slack, Feishu): answer well before, whatever TKE does. */
export const CHAT_ANSWER_WITHIN_MS = 2500;

export function createChatSource(platform: ChatPlatform, config: Config, env: NodeJS.ProcessEnv, followUps?: FollowUpDispatcher): WebhookSource {
  const allowedUsers = new Set((env[platform.allow.usersEnv] ?? '').split(',').map((u) => u.trim()).filter(Boolean));
  const allowedChannels = platform.allow.channels === undefined ? undefined : new Set(platform.allow.channels);
  const clusters = [...config.clusters.keys()];
  // `/scaleout demo 2` with no template: the first template the config lists for that cluster.
  const defaultTemplateFor = (cluster: string): string | undefined => {
    const alias = findCluster(config, cluster)?.alias;
    return alias === undefined ? undefined : [...config.templates.values()].find((t) => t.clusters.includes(alias))?.name;
  };

  return {
    name: platform.name,
    answerWithinMs: platform.answerWithinMs ?? CHAT_ANSWER_WITHIN_MS,
    authenticate: platform.authenticate,
    ...(platform.signatureUse !== undefined && { signatureUse: platform.signatureUse }),
    async interpret(request, now): Promise<Interpretation> {
      const message = platform.read(request, now);
      if ('answer' in message) return { kind: 'answer', answer: message.answer, note: message.note };
      const allowed = allowedUsers.has(message.user) && (allowedChannels === undefined || (message.channel !== undefined && allowedChannels.has(message.channel)));
      if (!allowed) {
        return { kind: 'answer', answer: await say(notAllowedText(message.user), 'private', message.replyTarget), note: `user ${message.user} not allowed` };
      }
      const command = parseChatCommand(message.text);
      if (command.kind === 'help') return { kind: 'answer', answer: await say(helpText(command.problem, clusters), 'private', message.replyTarget), note: 'help' };
      if (command.kind === 'status') {
        if (command.cluster !== undefined && findCluster(config, command.cluster) === undefined) {
          return { kind: 'answer', answer: await say(helpText(unknownClusterError(config, command.cluster).message, clusters), 'private', message.replyTarget), note: 'status of an unknown cluster' };
        }
        const cluster = command.cluster === undefined ? undefined : findCluster(config, command.cluster)!.alias;
        return { kind: 'status', ...(cluster !== undefined && { cluster }), ...(message.replyTarget !== undefined && { answerContext: { replyTarget: message.replyTarget } }) };
      }
      if (command.kind === 'scale-in') {
        const ask: ReleaseRequest = {
          source: platform.name,
          eventId: message.eventId,
          cluster: command.cluster,
          count: command.count,
          reason: `chat command by ${message.user}${message.channel !== undefined ? ` in ${message.channel}` : ''}: /scalein ${command.cluster} ${command.count}`,
          ...(command.dryRun && { dryRun: true }),
        };
        return { kind: 'scale-in', asks: [ask], ...(message.replyTarget !== undefined && { answerContext: { replyTarget: message.replyTarget } }) };
      }
      const template = command.template ?? defaultTemplateFor(command.cluster);
      const asked: ScaleOutRequest = {
        source: platform.name,
        eventId: message.eventId,
        cluster: command.cluster,
        template: template ?? '',
        count: command.count,
        params: new Map(),
        reason: `chat command by ${message.user}${message.channel !== undefined ? ` in ${message.channel}` : ''}`,
        origin: { kind: 'chat', user: message.user, ...(message.channel !== undefined && { conversation: message.channel }) },
        ...(command.dryRun && { dryRun: true }),
      };
      // Where a later reply goes is this sender's business: it travels to `answer`, not in the request.
      const answerContext = message.replyTarget === undefined ? undefined : { replyTarget: message.replyTarget };
      if (template !== undefined) return { kind: 'scale-out', requests: [asked], ...(answerContext !== undefined && { answerContext }) };
      // No template named and none for the cluster: say which, as data (no sentinel name).
      const error = findCluster(config, command.cluster) === undefined
        ? unknownClusterError(config, command.cluster)
        : new UnprocessableError('NoTemplateForCluster', `no template in the config may scale cluster ${command.cluster}; name one`);
      return { kind: 'scale-out', requests: [], refused: [{ request: asked, error }], ...(answerContext !== undefined && { answerContext }) };
    },
    async answerRelease(outcomes, context): Promise<HttpAnswer> {
      const outcome = outcomes[0];
      if (outcome === undefined) return platform.format('Nothing to do.', 'private');
      return say(releaseText(outcome), outcome.ok && outcome.status !== 'dry-run' ? 'public' : 'private', context?.replyTarget as ReplyTarget | undefined);
    },
    async answerStatus(statuses, now, context): Promise<HttpAnswer> {
      return say(statusText(statuses, now), 'private', context?.replyTarget as ReplyTarget | undefined);
    },
    // A person reads the reply: always 200, the outcome in words.
    async answer(outcomes: readonly ScaleOutOutcome[], _ignored, context): Promise<HttpAnswer> {
      const outcome = outcomes[0];
      if (outcome === undefined) return platform.format('Nothing to do.', 'private');
      const target = context?.replyTarget as ReplyTarget | undefined;
      if (!outcome.ok && outcome.error instanceof TkeCallError && outcome.error.outcomeUnknown && target !== undefined && followUps !== undefined && platform.post !== undefined) {
        // TKE may still act: finish it in an invocation with the function's whole timeout, which
        // posts the outcome here. If that cannot be started, say how to check instead.
        const secret = platform.secrets[0];
        const dispatched = secret === undefined ? Promise.reject(new Error('the sender has no secret to sign it with')) : followUps.dispatch(followUpJob(outcome.request, target, secret));
        const handedOff = await dispatched.then(
          () => undefined,
          (error: unknown) => `the follow-up could not be started: ${(error as Error).message}`,
        );
        const answer = await say(outcomeText(outcome, handedOff === undefined), 'public', target);
        return handedOff === undefined ? { ...answer, note: answer.note ?? `follow-up handed to ${followUps.description}` } : { ...answer, note: handedOff };
      }
      return say(outcomeText(outcome), outcome.ok && outcome.status !== 'dry-run' ? 'public' : 'private', target);
    },
    ...(platform.post !== undefined && {
      conversation: {
        of(context) {
          const target = context?.replyTarget as ReplyTarget | undefined;
          if (target === undefined) return undefined;
          // One post of a counted window (Slack's 5) is kept for the follow-up of an unknown outcome.
          const uses = target.kind === 'url' ? target.uses : undefined;
          const expiresAt = target.kind === 'url' ? target.expiresAt : undefined;
          return { source: platform.name, target, ...(expiresAt !== undefined && { expiresAt }), ...(uses !== undefined && { usesLeft: Math.max(0, uses - 1) }) };
        },
        // The target comes from the function's own store; the platform checks its base again all the same.
        post: (text, target) => platform.post!(text, target as unknown as ReplyTarget),
      },
      async completeFollowUp(job, run) {
        if (!isSignedFollowUp(job, platform.secrets)) {
          throw new UnauthorizedError(`the follow-up job is not signed with a ${platform.name} secret of this function`);
        }
        const outcome = await run(requestOfJob(job));
        const problem = await platform.post!(followUpText(outcome), job.target);
        return problem === undefined ? { outcome } : { outcome, note: problem };
      },
    }),
  };

  /** The answer carrying the reply in the platform's format; the reply is posted too where the platform wants every reply posted. */
  async function say(text: string, visibility: Visibility, target: ReplyTarget | undefined): Promise<HttpAnswer> {
    const answer = platform.format(text, visibility);
    if (!platform.postEveryReply || platform.post === undefined || target === undefined) return answer;
    const problem = await platform.post(text, target);
    return problem === undefined ? answer : { ...answer, note: problem };
  }
}
