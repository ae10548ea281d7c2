import { dingtalkSign } from '../../src/auth/dingtalk-sign';
import type { FunctionUrlEvent } from '../../src/scf/event';
import { startHarness, type Harness } from '../support/harness';
import { startRedisServer, type RedisServer } from '../support/redis-server';

/**
 * DingTalk header replay. DingTalk's robot signing (加签) is
 * sign = base64 HMAC-SHA256(secret, timestamp + "\n" + secret), timestamp in ms, accepted within
 * an hour: no byte of the message is signed (docs/SECURITY.md has the source; the search index
 * holds only third-party copies of DingTalk's page, no primary one). So a (timestamp, sign) pair
 * captured from one message would authorise any body for the hour the timestamp is accepted:
 * another sender ID past the allow-list, another cluster, another count. (Before: a forged
 * `demo-bj × 5` from a non-allowed user was created with a captured pair.)
 *
 * Each pair is bound to the first body it authorised, in the store, until its window closes: the
 * same pair with another body is 401; the same body again (DingTalk's own redelivery) is still
 * answered as before (a replay of the same msgId). With Redis the binding holds across instances.
 */
const SECRET = 'SECdingtalk-app-secret';
const env = { DINGTALK_APP_SECRET: SECRET, SCALEOUT_CHAT_ALLOW: 'manager1234' };

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(() => redis.stop());

let counter = 0;
const message = (content: string, overrides: Record<string, unknown> = {}) =>
  JSON.stringify({
    msgtype: 'text',
    text: { content },
    msgId: `msgReplay${++counter}`,
    senderStaffId: 'manager1234',
    conversationId: 'cid-1',
    ...overrides,
  });
const signedHeaders = (ts: string) => ({ 'content-type': 'application/json', timestamp: ts, sign: dingtalkSign(SECRET, ts) });
const post = (h: Harness, body: string, headers: Record<string, string>) =>
  h.invoke({ httpMethod: 'POST', path: '/hooks/dingtalk', headers, body } satisfies FunctionUrlEvent);

let prefix = 0;
describe.each([
  ['memory', () => ({})],
  ['redis', () => ({ SCALEOUT_STORE: redis.url })],
])('with the %s store', (_kind, storeEnv) => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness({ env: { ...env, ...storeEnv() }, config: (doc) => {
      doc.throttle = { cooldownSeconds: 0, windowSeconds: 3600, maxNodesPerWindow: 10_000 };
      doc.store = { keyPrefix: `dt${++prefix}:` };
    } });
  });
  afterEach(() => h.close());

  it('refuses a captured (timestamp, sign) pair with another body, and keeps the first message working', async () => {
    const ts = String(Date.now());
    const original = message('/scaleout demo 1');
    expect((await post(h, original, signedHeaders(ts))).json.text.content).toMatch(/^Requested 1 node/);

    const forged = message('/scaleout demo-bj 5 multi-disk', { senderStaffId: 'intruder', msgId: 'msgForged1' });
    const refused = await post(h, forged, signedHeaders(ts));
    expect(refused.statusCode).toBe(401);
    expect(refused.json.error.message).toBe('this dingtalk signature was already used for another message; a signature authorises one message');
    // Allowed user, other command: refused too. The pair belongs to the first body, whoever sends.
    expect((await post(h, message('/scaleout demo 5'), signedHeaders(ts))).statusCode).toBe(401);

    // DingTalk's redelivery of the same message with the same headers: answered as before.
    expect((await post(h, original, signedHeaders(ts))).json.text.content).toMatch(/^Already done for this command/);
    expect(h.sandbox.createdCalls).toHaveLength(1);
    expect(h.sandbox.createdCalls[0]!.params.ClusterId).toBe('cls-e55paxnt');
  });

  it('a new timestamp signs a new message as usual', async () => {
    const now = Date.now();
    expect((await post(h, message('/scaleout demo 1 --dry-run'), signedHeaders(String(now)))).statusCode).toBe(200);
    expect((await post(h, message('/scaleout demo 2 --dry-run'), signedHeaders(String(now + 1)))).statusCode).toBe(200);
  });
});

describe('across function instances sharing Redis', () => {
  it('a pair used on one instance cannot carry another body on another', async () => {
    const config = (doc: Record<string, any>) => {
      doc.store = { keyPrefix: 'dt-shared:' };
    };
    const a = await startHarness({ env: { ...env, SCALEOUT_STORE: redis.url }, config });
    const b = await startHarness({ env: { ...env, SCALEOUT_STORE: redis.url }, config });
    try {
      const ts = String(Date.now());
      expect((await post(a, message('/scaleout demo 1 --dry-run'), signedHeaders(ts))).statusCode).toBe(200);
      expect((await post(b, message('/scaleout demo-bj 5 multi-disk', { senderStaffId: 'intruder' }), signedHeaders(ts))).statusCode).toBe(401);
      expect(b.sandbox.calls).toHaveLength(0);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
