import type { StoreStep } from '../core/store-step';

/**
 * A chat command's purchase is followed to its end in the conversation that asked: its first reply
 * (the chat's answer, or the follow-up of an unknown outcome) says what was bought, and "ready" or
 * "failed" follow there, through what the platform allows later: Slack's response_url (30 minutes,
 * 5 posts, one kept for the follow-up), DingTalk's sessionWebhook (until its
 * sessionWebhookExpiredTime), Feishu's reply to the command's message (no window). Once the window
 * has closed the conversation is not posted to; the configured sinks have every notice anyway.
 *
 * The record holds the reply address (a capability URL, like a webhook's): it lives in the store
 * only, never in a log line or in GET /purchases.
 */
export interface Conversation {
  /** The chat sender that asked (`slack`, `feishu`, `dingtalk`): it knows how to post there. */
  readonly source: string;
  /** Where to post, as the sender gave it (sources/chat/follow-up.ts, ReplyTarget). */
  readonly target: Readonly<Record<string, unknown>>;
  readonly expiresAt?: number;
  /** Posts left, for a platform that counts them. */
  readonly usesLeft?: number;
}

export function conversationKeyOf(clusterId: string, purchaseId: string): string {
  return `conversation:{${clusterId}}:${purchaseId}`;
}

/**
 * How long a conversation is kept: past its window by this much (so that a notice after it closed
 * is logged as such, not silently skipped), and a conversation with no window of its own (Feishu)
 * this long after the command: longer than a purchase can take to end.
 */
export const CONVERSATION_KEEP_MS = 86_400_000;

/** Remembers the conversation of a purchase; the first one stays (a redelivery names the same). */
export function rememberConversation(current: Conversation | undefined, conversation: Conversation, now: number): StoreStep<Conversation, void> {
  if (current !== undefined) return { write: { kind: 'keep' }, result: undefined };
  return { write: { kind: 'put', value: conversation, expiresAt: (conversation.expiresAt ?? now) + CONVERSATION_KEEP_MS }, result: undefined };
}

export type ConversationUse = { readonly kind: 'open'; readonly conversation: Conversation } | { readonly kind: 'closed'; readonly why: string };

/** Takes one post of the conversation's window, if it is still open: two posters never share the last use. */
export function useConversation(current: Conversation | undefined, now: number): StoreStep<Conversation, ConversationUse> {
  if (current === undefined) return { write: { kind: 'keep' }, result: { kind: 'closed', why: 'no conversation is known for it (or its window closed)' } };
  if (current.expiresAt !== undefined && current.expiresAt <= now) return { write: { kind: 'keep' }, result: { kind: 'closed', why: `the conversation's window closed at ${new Date(current.expiresAt).toISOString()}` } };
  if (current.usesLeft !== undefined && current.usesLeft <= 0) return { write: { kind: 'keep' }, result: { kind: 'closed', why: 'the conversation takes no more posts (Slack: 5 per response_url)' } };
  const next = current.usesLeft === undefined ? current : { ...current, usesLeft: current.usesLeft - 1 };
  return { write: next === current ? { kind: 'keep' } : { kind: 'put', value: next, expiresAt: (current.expiresAt ?? now) + CONVERSATION_KEEP_MS }, result: { kind: 'open', conversation: current } };
}
