import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A local stand-in for the two Feishu OpenAPI calls the bot makes: get a tenant token, reply to a message. */
export interface FeishuApiStandIn {
  readonly url: string;
  readonly tokenRequests: Array<Record<string, unknown>>;
  readonly replies: Array<{ messageId: string; authorization: string | undefined; body: { msg_type: string; content: string } }>;
  close(): Promise<void>;
}

export async function startFeishuApiStandIn(app: { appId: string; appSecret: string }): Promise<FeishuApiStandIn> {
  const tokenRequests: FeishuApiStandIn['tokenRequests'] = [];
  const replies: FeishuApiStandIn['replies'] = [];
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const json = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      const body = JSON.parse(raw || '{}') as Record<string, unknown>;
      if (req.url === '/open-apis/auth/v3/tenant_access_token/internal') {
        tokenRequests.push(body);
        if (body.app_id !== app.appId || body.app_secret !== app.appSecret) return json(200, { code: 10014, msg: 'app secret invalid' });
        return json(200, { code: 0, msg: 'ok', tenant_access_token: 't-g1044ghJRUIJJ5ELQ', expire: 7200 });
      }
      const reply = /^\/open-apis\/im\/v1\/messages\/([^/]+)\/reply$/.exec(req.url ?? '');
      if (reply !== null) {
        if (req.headers.authorization !== 'Bearer t-g1044ghJRUIJJ5ELQ') return json(400, { code: 99991663, msg: 'Invalid access token' });
        replies.push({ messageId: decodeURIComponent(reply[1]!), authorization: req.headers.authorization, body: body as { msg_type: string; content: string } });
        return json(200, { code: 0, msg: 'success', data: { message_id: 'om_reply' } });
      }
      json(404, { code: 404, msg: 'not found' });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    tokenRequests,
    replies,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
