/**
 * Posts the bot's reply into a Feishu chat. Feishu does not show an event callback's HTTP answer,
 * so a bot speaks through its OpenAPI: a tenant_access_token from the app's ID and secret
 * (auth/v3/tenant_access_token/internal, valid about 2 h, cached here until 5 minutes before it
 * expires), then "reply to a message" (im/v1/messages/:message_id/reply) with a text message.
 * Every call is bounded: the event callback itself must be answered within 3 s.
 */
export interface FeishuMessengerOptions {
  /** https://open.feishu.cn, or https://open.larksuite.com for Lark. */
  readonly apiBase: string;
  readonly appId: string;
  readonly appSecret: string;
  readonly timeoutMs: number;
  readonly now: () => number;
}

export interface FeishuMessenger {
  /** Resolves to undefined when posted, or to why it was not (for the log line). */
  replyTo(messageId: string, text: string): Promise<string | undefined>;
}

export function createFeishuMessenger(options: FeishuMessengerOptions): FeishuMessenger {
  let token: { value: string; refreshAt: number } | undefined;

  const call = async (path: string, body: unknown, bearer?: string): Promise<Record<string, unknown>> => {
    const response = await fetch(`${options.apiBase}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8', ...(bearer !== undefined && { authorization: `Bearer ${bearer}` }) },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(options.timeoutMs),
    });
    const json = (await response.json()) as Record<string, unknown>;
    if (!response.ok || json.code !== 0) throw new Error(`Feishu ${path} answered HTTP ${response.status}, code ${String(json.code)}: ${String(json.msg)}`);
    return json;
  };

  const tenantToken = async (): Promise<string> => {
    if (token !== undefined && options.now() < token.refreshAt) return token.value;
    const json = await call('/open-apis/auth/v3/tenant_access_token/internal', { app_id: options.appId, app_secret: options.appSecret });
    const value = String(json.tenant_access_token);
    const expiresInSeconds = typeof json.expire === 'number' ? json.expire : 7200;
    token = { value, refreshAt: options.now() + Math.max(0, expiresInSeconds - 300) * 1000 };
    return value;
  };

  return {
    async replyTo(messageId, text) {
      try {
        await call(`/open-apis/im/v1/messages/${encodeURIComponent(messageId)}/reply`, { msg_type: 'text', content: JSON.stringify({ text }) }, await tenantToken());
        return undefined;
      } catch (error) {
        return `the reply could not be posted to Feishu: ${(error as Error).message}`;
      }
    },
  };
}
