import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local stand-in for the URLs chat platforms give for later replies: Slack's response_url
 * (answers 200 "ok") and DingTalk's sessionWebhook (answers 200 {"errcode":0,"errmsg":"ok"}).
 * Records every post.
 */
export interface ReplyStandIn {
  readonly url: string;
  readonly posts: Array<{ path: string; body: Record<string, any> }>;
  /** Resolves once `n` posts have arrived. */
  waitFor(n: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startReplyStandIn(): Promise<ReplyStandIn> {
  const posts: ReplyStandIn['posts'] = [];
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      posts.push({ path: req.url ?? '', body: JSON.parse(raw || '{}') as Record<string, any> });
      if ((req.url ?? '').startsWith('/robot/')) res.writeHead(200, { 'content-type': 'application/json' }).end('{"errcode":0,"errmsg":"ok"}');
      else res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    posts,
    async waitFor(n, timeoutMs = 10_000) {
      const until = Date.now() + timeoutMs;
      while (posts.length < n) {
        if (Date.now() > until) throw new Error(`expected ${n} posts, got ${posts.length}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
