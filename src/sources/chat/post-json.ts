/**
 * Posts a chat reply as JSON to a URL the platform gave (Slack's response_url, DingTalk's
 * sessionWebhook), already checked to be under the platform's base. Bounded in time; resolves to
 * why it failed (for the log line), never throws: a reply that cannot be posted changes nothing else.
 */
export async function postJson(url: string, body: unknown, platform: string, timeoutMs = 3000): Promise<string | undefined> {
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'error',
    });
    const text = (await response.text()).slice(0, 200);
    // DingTalk answers 200 with {"errcode":0} or an errcode; Slack answers 200 "ok" or a 4xx.
    if (!response.ok) return `the ${platform} reply could not be posted: HTTP ${response.status} ${text}`;
    const errcode = /"errcode"\s*:\s*(-?\d+)/.exec(text)?.[1];
    if (errcode !== undefined && errcode !== '0') return `the ${platform} reply could not be posted: ${text}`;
    return undefined;
  } catch (error) {
    return `the ${platform} reply could not be posted: ${(error as Error).message}`;
  }
}
