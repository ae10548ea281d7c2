import * as z from '../config/zod';
import { builtOnFirstUse } from '../config/zod';
import { readSecrets, verifyWithFallback } from '../auth/authenticators';
import { constantTimeEquals } from '../auth/constant-time';
import { decryptFeishu, verifyFeishuSignature } from '../auth/feishu-crypto';
import { createChatSource, type ChatPlatform } from './chat/chat-source';
import type { FollowUpDispatcher, ReplyTarget } from './chat/follow-up';
import { createFeishuMessenger } from './chat/feishu-messenger';
import type { Config } from '../config/load-config';
import type { FeishuSourceConfig } from '../config/schema';
import { BadRequestError, UnauthorizedError } from '../errors';
import { parseJsonBody, parseJsonText } from '../http/json-body';
import type { WebhookRequest } from '../http/webhook-request';
import { isValidEventId } from './event-id';
import { invalidPayload } from './payload-error';
import type { WebhookSource } from './webhook-source';

/**
 * A Feishu/Lark bot receiving `im.message.receive_v1` events (a user sends `/scaleout demo 2` to
 * the bot). Handles the `url_verification` challenge, the verification token, and, with an Encrypt
 * Key, encrypted events and X-Lark-Signature. Event ID: the event's header.event_id.
 *
 * Feishu does not show an event callback's HTTP answer in the chat, so with the app's ID and
 * secret configured the reply is posted as a reply to the user's message (chat/feishu-messenger.ts);
 * it is also the HTTP answer, in Feishu's message format. Without them the bot acts silently.
 */
// Built on first use (config/zod.ts): an instance builds only the schemas of the senders it hears from.
const challengeSchema = builtOnFirstUse(() =>
  z.object({ type: z.literal('url_verification'), challenge: z.string(), token: z.string() }),
);

const eventSchema = builtOnFirstUse(() =>
  z.object({
    schema: z.literal('2.0', { error: 'must be "2.0" (event subscription version 2)' }),
    header: z.object({ event_id: z.string().check(z.minLength(1)), token: z.string(), event_type: z.string() }),
    event: z.object({
      sender: z.optional(z.object({ sender_id: z.object({ open_id: z.optional(z.string()), user_id: z.optional(z.string()), union_id: z.optional(z.string()) }) })),
      message: z.optional(z.object({ message_id: z.optional(z.string()), chat_id: z.optional(z.string()), message_type: z.string(), content: z.string() })),
    }),
  }),
);

export function createFeishuSource(config: FeishuSourceConfig, appConfig: Config, env: NodeJS.ProcessEnv, followUps?: FollowUpDispatcher): WebhookSource {
  const tokens = readSecrets('feishu', config.verificationTokenEnv, env);
  const keys = config.encryptKeyEnv === undefined ? undefined : readSecrets('feishu', config.encryptKeyEnv, env);
  // With an Encrypt Key configured, the current key and any previous ones still accepted.
  const encryptKeys = keys?.secrets;
  const signed = (request: WebhookRequest) => request.headers['x-lark-signature'] !== undefined;
  const appId = config.appIdEnv === undefined ? undefined : env[config.appIdEnv];
  const appSecret = config.appSecretEnv === undefined ? undefined : env[config.appSecretEnv];
  const messenger =
    appId !== undefined && appId !== '' && appSecret !== undefined && appSecret !== ''
      ? createFeishuMessenger({ apiBase: config.apiBase, appId, appSecret, timeoutMs: 500, now: Date.now })
      : undefined;

  const checkToken = (token: string) =>
    verifyWithFallback(tokens.secrets, (expected) => {
      if (!constantTimeEquals(token, expected)) throw new UnauthorizedError('wrong verification token');
    });

  const platform: ChatPlatform = {
    name: 'feishu',
    allow: config.allow,
    authenticate(request, now) {
      if (tokens.missing !== undefined) throw tokens.missing;
      if (keys?.missing !== undefined) throw keys.missing;
      // With an Encrypt Key every event is signed; the verification token inside is checked in `read`.
      if (encryptKeys !== undefined && signed(request)) {
        verifyWithFallback(encryptKeys, (key) => verifyFeishuSignature(request.headers, request.rawBody, key, now, config.toleranceSeconds));
      }
    },
    read(request) {
      let payload = parseJsonBody(request) as Record<string, unknown>;
      if (typeof payload?.encrypt === 'string') {
        if (encryptKeys === undefined) throw new BadRequestError('InvalidPayload', 'an encrypted Feishu event, but no Encrypt Key is configured (sources.feishu.encryptKeyEnv)');
        const encrypted = payload.encrypt;
        let decrypted: Record<string, unknown> = {};
        // A wrong key almost always fails the padding; when it does not, the text is not JSON.
        // Either way, the next key (an earlier one during a rotation) gets its turn.
        verifyWithFallback(encryptKeys, (key) => {
          const plain = decryptFeishu(encrypted, key);
          try {
            decrypted = parseJsonText(plain) as Record<string, unknown>;
          } catch {
            throw new UnauthorizedError('encrypt could not be decrypted with the Encrypt Key');
          }
        });
        payload = decrypted;
      } else if (encryptKeys !== undefined) {
        throw new UnauthorizedError('an Encrypt Key is configured: events must be encrypted');
      }

      const challenge = challengeSchema().safeParse(payload);
      if (challenge.success) {
        checkToken(challenge.data.token);
        return { answer: { status: 200, body: { challenge: challenge.data.challenge } }, note: 'url_verification' };
      }
      // Only the URL challenge may come unsigned when an Encrypt Key is set.
      if (encryptKeys !== undefined && !signed(request)) throw new UnauthorizedError('missing X-Lark-Signature header');

      const parsed = eventSchema().safeParse(payload);
      if (!parsed.success) throw invalidPayload('a Feishu event', parsed.error);
      const { header, event } = parsed.data;
      checkToken(header.token);
      if (header.event_type !== 'im.message.receive_v1' || event.message === undefined) {
        return { answer: { status: 200, body: {} }, note: `event ${header.event_type} ignored` };
      }
      if (!isValidEventId(header.event_id)) throw new BadRequestError('InvalidPayload', 'not a Feishu event: header.event_id is malformed');
      const user = event.sender?.sender_id.open_id ?? event.sender?.sender_id.user_id ?? event.sender?.sender_id.union_id;
      if (user === undefined) throw new BadRequestError('InvalidPayload', 'not a Feishu event: event.sender.sender_id is required');
      if (event.message.message_type !== 'text') return { answer: this.format('Send the command as text: /scaleout help', 'private'), note: 'not text' };
      const content = parseJsonText(event.message.content) as { text?: unknown };
      if (typeof content?.text !== 'string') throw new BadRequestError('InvalidPayload', 'not a Feishu event: event.message.content has no text');
      return {
        user,
        ...(event.message.chat_id !== undefined && { channel: event.message.chat_id }),
        text: content.text,
        eventId: header.event_id,
        ...(event.message.message_id !== undefined && { replyTarget: { kind: 'message' as const, messageId: event.message.message_id } }),
      };
    },
    format(text) {
      return { status: 200, body: { msg_type: 'text', content: { text } } };
    },
    // Feishu does not show the callback's answer: every reply is posted (with the app's credentials).
    postEveryReply: true,
    secrets: tokens.secrets,
    ...(messenger !== undefined && {
      post: (text: string, target: ReplyTarget) =>
        target.kind === 'message' ? messenger.replyTo(target.messageId, text) : Promise.resolve('a Feishu reply needs a message ID'),
      // Feishu waits 3 s for the callback's answer: TKE gets 1.8 s, posting the reply the rest.
      answerWithinMs: 1800,
    }),
  };
  return createChatSource(platform, appConfig, env, followUps);
}
