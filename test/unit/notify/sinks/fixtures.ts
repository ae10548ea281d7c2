import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Message } from '../../../../src/notify/message';
import type { BoughtNotice } from '../../../../src/core/notice';
import type { Delivery, Sink, SinkFactory, SinkSettings } from '../../../../src/notify/sinks/sink';

/** 2026-03-01T08:00:00Z: the clock of every delivery here. */
export const NOW = Date.UTC(2026, 2, 1, 8, 0, 0);

export const NOTICE: BoughtNotice = {
  kind: 'bought',
  id: 'bought:p-0123456789abcdef',
  at: NOW - 5_000,
  cluster: 'web',
  clusterId: 'cls-e55paxnt',
  region: 'ap-guangzhou',
  purchaseId: 'p-0123456789abcdef',
  template: 'web-pool',
  rung: 1,
  instanceType: 'S5.LARGE8',
  zone: 'ap-guangzhou-3',
  chargeType: 'POSTPAID_BY_HOUR',
  count: 2,
  instanceIds: ['ins-aaaa1111', 'ins-bbbb2222'],
  why: { source: 'alertmanager', eventId: 'e-42', reason: 'HighCPU' },
};

export const LINK_URL = 'https://console.cloud.tencent.com/tke2/cluster/sub/list/nodeManage/node?rid=1&clusterId=cls-e55paxnt';

export const MESSAGE: Message = {
  title: 'Bought 2 nodes for web (cls-e55paxnt)',
  severity: 'info',
  facts: [
    { name: 'Template', value: 'web-pool (S5.LARGE8, ap-guangzhou-3)' },
    { name: 'Instances', value: 'ins-aaaa1111, ins-bbbb2222' },
    { name: 'Why', value: 'alertmanager: HighCPU' },
  ],
  labels: [
    ['alertname', 'HighCPU'],
    ['namespace', 'shop'],
  ],
  link: { text: 'Node list', url: LINK_URL },
};

/** Label values an alert may carry that must never ping anyone or become a link. */
export const HOSTILE_LABELS: ReadonlyArray<readonly [string, string]> = [
  ['channel', '<!channel>'],
  ['here', '<!here|here>'],
  ['slack_link', '<https://evil.example/a|click here>'],
  ['user', '<@U024BE7LH>'],
  ['at_all', '@all'],
  ['md_link', '[x](javascript:alert(1))'],
  ['md_image', '![i](https://evil.example/i.png)'],
  ['newline', 'a\n# heading\n[ref]: https://evil.example/r\n> quote'],
  ['feishu_at', '<at user_id="all">everyone</at>'],
  ['wecom_at', '<@all>'],
  ['autolink', '<https://evil.example/auto>'],
];

export function hostileMessage(): Message {
  return { ...MESSAGE, title: 'Bought 2 nodes for <!channel> [t](https://evil.example/t)', labels: HOSTILE_LABELS };
}

/** `n` labels of about 60 bytes each: far over every platform's limit when n is in the thousands. */
export function hugeMessage(n: number): Message {
  const labels: Array<readonly [string, string]> = [];
  for (let i = 0; i < n; i++) labels.push([`label_${String(i).padStart(5, '0')}`, `value-${'x'.repeat(30)}-${i}`]);
  return { ...MESSAGE, labels };
}

/** A shared secret for the signing tests: long and random-looking. */
export const SECRET = 'SECb1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2';

export function settings(overrides: Partial<SinkSettings> & Pick<SinkSettings, 'url' | 'urlEnv'>): SinkSettings {
  return { name: 'team', language: 'en', fetch, ...overrides };
}

export function deliver(factory: SinkFactory, sinkSettings: SinkSettings, message: Message = MESSAGE, signal: AbortSignal = AbortSignal.timeout(5_000), now = NOW): Promise<Delivery> {
  const sink: Sink = factory(sinkSettings);
  return sink.deliver(NOTICE, message, signal, now);
}

// ---------------------------------------------------------------------------------------------
// A platform played by a real HTTP server on 127.0.0.1.

export interface ReceivedRequest {
  readonly method: string;
  /** Path and query, as sent. */
  readonly url: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: string;
}

export type PlatformReply = { readonly status?: number; readonly body?: string | object; readonly headers?: Readonly<Record<string, string>> } | 'hang';

/**
 * Answers every POST with `reply(request)`; 'hang' never answers (the connection stays open until
 * stop). Records every request.
 */
export class PlatformServer {
  readonly requests: ReceivedRequest[] = [];
  private server: Server | undefined;
  private baseUrl = '';

  constructor(public reply: (request: ReceivedRequest) => PlatformReply) {}

  async start(): Promise<string> {
    this.server = createServer((req, res) => void this.serve(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', () => resolve()));
    this.baseUrl = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.baseUrl;
  }

  get url(): string {
    return this.baseUrl;
  }

  async stop(): Promise<void> {
    if (this.server === undefined) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  /** The last request's body as JSON. */
  lastJson(): any {
    const last = this.requests.at(-1);
    if (last === undefined) throw new Error('no request received');
    return JSON.parse(last.body);
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const request: ReceivedRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
    this.requests.push(request);
    const reply = this.reply(request);
    if (reply === 'hang') return;
    const body = reply.body === undefined ? '' : typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
    res.writeHead(reply.status ?? 200, { 'content-type': typeof reply.body === 'object' ? 'application/json' : 'text/plain', ...reply.headers });
    res.end(body);
  }
}

/** Every text a reader could see in a body, for the hostile-label checks. */
export function expectNoSecret(delivery: Delivery, ...secrets: string[]): void {
  expect(delivery.ok).toBe(false);
  if (delivery.ok) return;
  for (const secret of secrets) expect(delivery.reason).not.toContain(secret);
}
