import type { Language, Notice } from '../../core/notice';
import type { StateStore } from '../../store/state-store';
import { conversationKeyOf, useConversation, type Conversation, type ConversationUse } from '../conversation';
import { fitMessage, plainText } from '../message';
import type { Sink } from './sink';

/**
 * The conversation a chat command came from, as a sink (notify/conversation.ts): it posts a
 * purchase's later news (ready, failed) where the command was typed, through the chat sender's own
 * reply path, while the platform's window is open. Its name is reserved: config sinks cannot take it.
 */
export const CONVERSATION_SINK = 'conversation';

/** Characters of a reply in a conversation: well within what every chat platform's reply takes. */
const CONVERSATION_TEXT_LIMIT = 3000;

/** Posts `text` to a reply target the chat sender gave; resolves to why it could not, or undefined. */
export type ConversationPoster = (text: string, target: Readonly<Record<string, unknown>>) => Promise<string | undefined>;

export function createConversationSink(store: StateStore, posterFor: (source: string) => ConversationPoster | undefined, language: Language): Sink {
  return {
    name: CONVERSATION_SINK,
    type: 'conversation',
    language,
    // A conversation gets a purchase's few notices; the platforms' limits are per conversation.
    perPass: 50,
    // The sender's own reply path keeps its own time bound (post-json.ts, the Feishu messenger), not `signal`'s.
    async deliver(notice: Notice, message, _signal, now) {
      if (!('purchaseId' in notice)) return { ok: false, retry: false, reason: 'only a purchase has a conversation' };
      let use: ConversationUse;
      try {
        use = await store.update<Conversation, ConversationUse>(conversationKeyOf(notice.clusterId, notice.purchaseId), (current) => useConversation(current, now));
      } catch (error) {
        return { ok: false, retry: true, reason: `the conversation could not be read: ${(error as Error).message}` };
      }
      if (use.kind === 'closed') return { ok: false, retry: false, reason: `${use.why}; the configured sinks have it` };
      const post = posterFor(use.conversation.source);
      if (post === undefined) return { ok: false, retry: false, reason: `sender ${use.conversation.source} is no longer enabled` };
      // Plain text, as every chat reply is; short enough for any of them (DingTalk's text, Slack's 40,000).
      const problem = await post(plainText(fitMessage(message, CONVERSATION_TEXT_LIMIT, (m) => plainText(m).length, language)), use.conversation.target);
      if (problem === undefined) return { ok: true };
      // A 4xx is the platform refusing this reply address for good (Slack's expired_url, used_url;
      // a sessionWebhook gone): posting again would only spend another of its uses.
      return { ok: false, retry: !/HTTP 4\d\d/.test(problem), reason: problem };
    },
  };
}
