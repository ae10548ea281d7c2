import { rememberConversation, useConversation, CONVERSATION_KEEP_MS, type Conversation } from '../../../src/notify/conversation';

/**
 * A chat command's conversation as pure steps. Slack's response_url takes "up to 5" posts "within 30
 * minutes" (api.slack.com, Handling slash commands): one is kept for the follow-up of an unknown
 * outcome (sources/chat/chat-source.ts), so 4 are left for later news.
 */
const T0 = Date.UTC(2026, 11, 7, 1, 0, 0);
const slack: Conversation = { source: 'slack', target: { kind: 'url', url: 'https://hooks.slack.com/commands/T/1/x' }, expiresAt: T0 + 30 * 60_000, usesLeft: 4 };
const put = (step: { write: unknown }) => (step.write as { value: Conversation }).value;

describe('the conversation of a chat command', () => {
  it('is remembered once, and kept a day past its window (Feishu, which has none: a day)', () => {
    // Kept past its window, so that a notice after it closed is logged as such.
    expect(rememberConversation(undefined, slack, T0).write).toEqual({ kind: 'put', value: slack, expiresAt: T0 + 30 * 60_000 + CONVERSATION_KEEP_MS });
    expect(rememberConversation(slack, { ...slack, usesLeft: 99 }, T0).write).toEqual({ kind: 'keep' });
    const feishu: Conversation = { source: 'feishu', target: { kind: 'message', messageId: 'om_1' } };
    expect(rememberConversation(undefined, feishu, T0).write).toEqual({ kind: 'put', value: feishu, expiresAt: T0 + CONVERSATION_KEEP_MS });
  });

  it('gives its posts one at a time, and none once they are used up or its window has closed', () => {
    let c: Conversation = slack;
    for (let i = 0; i < 4; i++) {
      const step = useConversation(c, T0 + i);
      expect(step.result.kind).toBe('open');
      c = put(step);
    }
    expect(c.usesLeft).toBe(0);
    expect(useConversation(c, T0 + 5).result).toEqual({ kind: 'closed', why: expect.stringContaining('no more posts') });
    expect(useConversation(slack, T0 + 30 * 60_000).result).toEqual({ kind: 'closed', why: expect.stringContaining("window closed at 2026-12-07T01:30:00.000Z") });
    expect(useConversation(undefined, T0).result.kind).toBe('closed');
  });
});
