import { createHash } from 'node:crypto';
import * as z from '../config/zod';
import { builtOnFirstUse } from '../config/zod';
import { signatureKeyFor } from '../core/signature-binding';
import { readSecrets, withSecret } from '../auth/authenticators';
import { verifyDingtalkSign } from '../auth/dingtalk-sign';
import { createChatSource, type ChatPlatform } from './chat/chat-source';
import { isUnderBase, type FollowUpDispatcher } from './chat/follow-up';
import { postJson } from './chat/post-json';
import type { Config } from '../config/load-config';
import type { DingtalkSourceConfig } from '../config/schema';
import { BadRequestError } from '../errors';
import { parseJsonBody } from '../http/json-body';
import { isValidEventId } from './event-id';
import { invalidPayload } from './payload-error';
import type { WebhookSource } from './webhook-source';

/**
 * A DingTalk outgoing robot: a group member @-mentions the bot with `/scaleout demo 2` and DingTalk
 * POSTs the message as JSON. The robot replies through the message's `sessionWebhook` (DingTalk's
 * documented reply path, valid until `sessionWebhookExpiredTime`; only under `replyBase`,
 * https://oapi.dingtalk.com), and the HTTP answer carries the same text message (msgtype text).
 * Event ID: the message's msgId. The `sign` header covers only the `timestamp` header, not the
 * body, so each (timestamp, sign) pair is bound to the first body it authorised (`signatureUse`).
 */
// Built on first use (config/zod.ts): an instance builds only the schemas of the senders it hears from.
const messageSchema = builtOnFirstUse(() =>
  z.object({
    msgtype: z.string(),
    text: z.optional(z.object({ content: z.string() })),
    msgId: z.string().check(z.minLength(1)),
    senderStaffId: z.optional(z.string()),
    senderId: z.optional(z.string()),
    conversationId: z.optional(z.string()),
    sessionWebhook: z.optional(z.string()),
    /** When the sessionWebhook stops working (epoch ms). */
    sessionWebhookExpiredTime: z.optional(z.number()),
  }),
);

export function createDingtalkSource(config: DingtalkSourceConfig, appConfig: Config, env: NodeJS.ProcessEnv, followUps?: FollowUpDispatcher): WebhookSource {
  const platform: ChatPlatform = {
    name: 'dingtalk',
    allow: config.allow,
    authenticate: withSecret('dingtalk', config.appSecretEnv, env, (request, now, secret) =>
      verifyDingtalkSign(request.headers, secret, now, config.toleranceSeconds),
    ),
    // The sign covers only the timestamp: bind each (timestamp, sign) to the first body it came
    // with, for as long as the timestamp is accepted (core/signature-binding.ts).
    signatureUse(request) {
      const { timestamp, sign } = request.headers;
      if (timestamp === undefined || sign === undefined) return undefined; // authenticate refused it already
      return {
        key: signatureKeyFor('dingtalk', timestamp, sign),
        bodyDigest: createHash('sha256').update(request.rawBody).digest('hex'),
        expiresAt: Number(timestamp) + config.toleranceSeconds * 1000,
      };
    },
    read(request, now) {
      const parsed = messageSchema().safeParse(parseJsonBody(request));
      if (!parsed.success) throw invalidPayload('a DingTalk robot message', parsed.error);
      const message = parsed.data;
      const user = message.senderStaffId ?? message.senderId;
      if (user === undefined) throw new BadRequestError('InvalidPayload', 'not a DingTalk robot message: senderStaffId or senderId is required');
      if (!isValidEventId(message.msgId)) throw new BadRequestError('InvalidPayload', 'not a DingTalk robot message: msgId is malformed');
      if (message.msgtype !== 'text' || message.text === undefined) {
        return { answer: this.format('Send the command as text: /scaleout help', 'private'), note: `msgtype ${message.msgtype}` };
      }
      // The documented way for an outgoing robot to reply later is the message's sessionWebhook
      // (valid until sessionWebhookExpiredTime); only one under DingTalk's host is used.
      const expired = message.sessionWebhookExpiredTime !== undefined && message.sessionWebhookExpiredTime <= now;
      const webhook = expired ? undefined : message.sessionWebhook;
      return {
        user,
        ...(message.conversationId !== undefined && { channel: message.conversationId }),
        text: message.text.content,
        eventId: message.msgId,
        ...(webhook !== undefined && isUnderBase(webhook, config.replyBase) && { replyTarget: { kind: 'url' as const, url: webhook, ...(message.sessionWebhookExpiredTime !== undefined && { expiresAt: message.sessionWebhookExpiredTime }) } }),
      };
    },
    // DingTalk shows the HTTP answer as the robot's reply; every reply is seen by the group.
    format(text) {
      return { status: 200, body: { msgtype: 'text', text: { content: text } } };
    },
    // DingTalk's documented way for a robot to reply is the message's sessionWebhook: every reply
    // is posted there, and is the HTTP answer too, for clients that show it.
    postEveryReply: true,
    // Every reply is posted before the answer goes back: TKE gets 1.7 s and the post 1 s, so the
    // answer is back within 3 s, as for the other chat platforms.
    answerWithinMs: 1700,
    secrets: readSecrets('dingtalk', config.appSecretEnv, env).secrets,
    // Checked again here: a follow-up job names its own target (sources/chat/follow-up.ts).
    post: (text, target) =>
      target.kind === 'url' && isUnderBase(target.url, config.replyBase)
        ? postJson(target.url, { msgtype: 'text', text: { content: text } }, 'DingTalk', 1000)
        : Promise.resolve(`a DingTalk reply goes only to a sessionWebhook under ${config.replyBase}`),
  };
  return createChatSource(platform, appConfig, env, followUps);
}
