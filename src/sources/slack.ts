import { readSecrets, withSecret } from '../auth/authenticators';
import { verifySlackSignature } from '../auth/slack-signature';
import { createChatSource, type ChatPlatform } from './chat/chat-source';
import { isUnderBase, type FollowUpDispatcher } from './chat/follow-up';
import { postJson } from './chat/post-json';
import type { Config } from '../config/load-config';
import type { SlackSourceConfig } from '../config/schema';
import { BadRequestError, UnsupportedMediaTypeError } from '../errors';
import { isValidEventId } from './event-id';
import type { WebhookSource } from './webhook-source';

/**
 * A Slack slash command (`/scaleout demo 2`): a form-encoded POST signed with the app's signing
 * secret. The answer is the message Slack shows: `in_channel` for what was done, `ephemeral` (only
 * the caller sees it) for help, refusals and dry runs. Slack gives up after 3 s; the event ID is the
 * command's trigger_id, so a retried delivery of one command never scales twice.
 */
export function createSlackSource(config: SlackSourceConfig, appConfig: Config, env: NodeJS.ProcessEnv, followUps?: FollowUpDispatcher): WebhookSource {
  const platform: ChatPlatform = {
    name: 'slack',
    allow: config.allow,
    authenticate: withSecret('slack', config.signingSecretEnv, env, (request, now, secret) =>
      verifySlackSignature(request.headers, request.rawBody, secret, now, config.toleranceSeconds),
    ),
    read(request, now) {
      const contentType = request.headers['content-type'];
      if (contentType === undefined || !/^application\/x-www-form-urlencoded\s*(;|$)/i.test(contentType)) {
        throw new UnsupportedMediaTypeError(contentType, 'application/x-www-form-urlencoded');
      }
      const form = new URLSearchParams(request.rawBody.toString('utf8'));
      for (const field of ['command', 'user_id', 'channel_id', 'trigger_id']) {
        if (!form.get(field)) throw new BadRequestError('InvalidPayload', `not a Slack slash command: ${field} is required`);
      }
      const triggerId = form.get('trigger_id')!;
      if (!isValidEventId(triggerId)) throw new BadRequestError('InvalidPayload', 'not a Slack slash command: trigger_id is malformed');
      // response_url takes up to 5 follow-ups within 30 minutes (api.slack.com, "Handling slash
      // commands"); only one under Slack's host is used, never a URL the payload makes up.
      const responseUrl = form.get('response_url');
      return {
        user: form.get('user_id')!,
        channel: form.get('channel_id')!,
        // `/scalein` is a slash command of its own: the command word says which.
        text: form.get('command') === '/scalein' ? `/scalein ${form.get('text') ?? ''}` : (form.get('text') ?? ''),
        eventId: triggerId,
        ...(responseUrl !== null && isUnderBase(responseUrl, config.replyBase) && { replyTarget: { kind: 'url' as const, url: responseUrl, expiresAt: now + RESPONSE_URL_LIFETIME_MS, uses: RESPONSE_URL_USES } }),
      };
    },
    format(text, visibility) {
      return { status: 200, body: { response_type: visibility === 'public' ? 'in_channel' : 'ephemeral', text } };
    },
    postEveryReply: false,
    secrets: readSecrets('slack', config.signingSecretEnv, env).secrets,
    // Checked again here: a follow-up job names its own target (sources/chat/follow-up.ts).
    post: (text, target) =>
      target.kind === 'url' && isUnderBase(target.url, config.replyBase)
        ? postJson(target.url, { response_type: 'in_channel', replace_original: false, text }, 'Slack')
        : Promise.resolve(`a Slack reply goes only to a response_url under ${config.replyBase}`),
  };
  return createChatSource(platform, appConfig, env, followUps);
}

/** A slash command's response_url: "up to 5 times within 30 minutes" (api.slack.com, Handling slash commands). */
const RESPONSE_URL_LIFETIME_MS = 30 * 60_000;
const RESPONSE_URL_USES = 5;
