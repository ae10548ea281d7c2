import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { RedisStore } from '../../../src/store/redis-store';
import { HEALTH_TOKEN, startHarness, type Harness } from '../../support/harness';
import { startRedisServer, type RedisServer } from '../../support/redis-server';

/**
 * A Redis the store must not serve from, through the real handler and real redis-servers
 *.
 *
 * Eviction: every key of ours has a TTL, so under memory pressure any `allkeys-*` or `volatile-*`
 * maxmemory-policy may evict idempotency and throttle records (Redis docs, "Key eviction": the
 * volatile-* policies pick among keys with an expire set, allkeys-* among all keys); evicted, a
 * redelivery buys again and a spent budget resets (seen before: 40 nodes against a budget of 20).
 * The policy is read with INFO (CONFIG is often disabled on managed Redis) and anything but
 * `noeviction` is refused unless the config accepts the risk.
 *
 * A Redis Cluster node answers MOVED for keys of other slots; before, /healthz called such a store
 * reachable while every delivery got a 503. A wrong password logged only "not connected".
 */
const post = (h: Harness, eventId: string) => h.postGeneric({ eventId, cluster: 'demo', template: 'small', count: 1 });
const health = (h: Harness, token?: string) =>
  h.invoke({ httpMethod: 'GET', path: '/healthz', headers: token === undefined ? {} : { authorization: `Bearer ${token}` }, body: '' });

describe.each(['allkeys-lru', 'volatile-ttl', 'allkeys-random'])('a Redis with maxmemory-policy %s', (policy) => {
  let redis: RedisServer;
  let h: Harness | undefined;
  beforeAll(async () => {
    redis = await startRedisServer(['--maxmemory', '64mb', '--maxmemory-policy', policy]);
  });
  afterAll(() => redis.stop());
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('is refused: 503 naming the policy and the fix, nothing sent to TKE, /healthz degraded, an error at cold start', async () => {
    h = await startHarness({ env: { SCALEOUT_STORE: redis.url } });
    const reply = await post(h, 'evict-1');
    expect(reply.statusCode).toBe(503);
    expect(reply.json.error).toMatchObject({ code: 'StoreMisconfigured', message: expect.stringContaining(`maxmemory-policy ${policy} lets Redis evict`) });
    expect(reply.json.error.message).toContain('Set maxmemory-policy noeviction');
    expect(reply.json.error.message).toContain('store.acceptEvictingPolicy: true');
    expect(h.sandbox.calls).toHaveLength(0);

    expect((await health(h)).json).toEqual({ status: 'degraded', store: { reachable: true } });
    expect((await health(h, HEALTH_TOKEN)).json.store).toMatchObject({ kind: 'redis', reachable: true, evictionPolicy: policy, problem: expect.stringContaining('noeviction') });
    expect(h.logLines.find((l) => l.msg === 'state store refused: every scale-out answers 503 until this is fixed')).toMatchObject({ level: 'error', store: { evictionPolicy: policy } });
  });

  it('is served when the config accepts the risk, and /healthz says so', async () => {
    h = await startHarness({ env: { SCALEOUT_STORE: redis.url }, config: (doc) => (doc.store = { acceptEvictingPolicy: true, keyPrefix: `acc-${policy}:` }) });
    expect((await post(h, 'evict-accepted')).json.status).toBe('created');
    expect((await health(h, HEALTH_TOKEN)).json.store).toMatchObject({ evictionPolicy: policy, warning: expect.stringContaining('accepted by store.acceptEvictingPolicy') });
    expect((await health(h)).json.status).toBe('ok');
  });
});

describe('the policy check', () => {
  it('passes noeviction, and is re-read: a policy fixed while the instance lives is seen without a restart', async () => {
    const redis = await startRedisServer(['--maxmemory-policy', 'allkeys-lru']);
    let clock = Date.now();
    const store = new RedisStore({ url: redis.url, keyPrefix: 'check:', now: () => clock });
    const admin = new Redis(redis.url);
    try {
      expect((await store.check()).problem).toContain('allkeys-lru');
      await admin.config('SET', 'maxmemory-policy', 'noeviction');
      // Cached for a while (the clock is injected: no sleeping), then read again.
      expect((await store.check()).problem).toContain('allkeys-lru');
      clock += 11_000;
      expect(await store.check()).toEqual({ evictionPolicy: 'noeviction' });
    } finally {
      admin.disconnect();
      await store.close();
      await redis.stop();
    }
  });
});

/** A redis-server in cluster mode, serving no slot until told to. */
const startClusterNode = () => startRedisServer(['--cluster-enabled', 'yes', '--cluster-config-file', join(mkdtempSync(join(tmpdir(), 'redis-cluster-')), 'nodes.conf')]);

describe('a Redis Cluster node', () => {
  it('is refused at the first decision with what to use instead, and /healthz is degraded though the node answers PING', async () => {
    const redis = await startClusterNode();
    const h = await startHarness({ env: { SCALEOUT_STORE: redis.url } });
    try {
      const reply = await post(h, 'cluster-1');
      expect(reply.statusCode).toBe(503);
      expect(reply.json.error).toMatchObject({ code: 'StoreMisconfigured', message: expect.stringContaining('node of a Redis Cluster (cluster_enabled:1) that serves 0 of its 16384 slots') });
      expect(reply.json.error.message).toContain('TencentDB for Redis cluster edition through its proxy address');
      expect(h.sandbox.calls).toHaveLength(0);
      expect((await health(h)).json).toEqual({ status: 'degraded', store: { reachable: true } });
    } finally {
      await h.close();
      await redis.stop();
    }
  });
});

describe('a one-shard Redis Cluster (one node serving every slot)', () => {
  it('is served from: no key can answer MOVED', async () => {
    const redis = await startClusterNode();
    const admin = new Redis(redis.url);
    await admin.call('CLUSTER', 'ADDSLOTSRANGE', '0', '16383');
    for (let i = 0; i < 100 && !/cluster_state:ok/.test(String(await admin.call('CLUSTER', 'INFO'))); i++) await new Promise((r) => setTimeout(r, 50));
    admin.disconnect();
    const h = await startHarness({ env: { SCALEOUT_STORE: redis.url } });
    try {
      expect((await post(h, 'one-shard-1')).json.status).toBe('created');
      expect((await health(h)).json.status).toBe('ok');
    } finally {
      await h.close();
      await redis.stop();
    }
  });
});

describe('a wrong password', () => {
  it('is named in the log line (the AUTH error, never the password), and the answer is a 503 that leaks nothing', async () => {
    const redis = await startRedisServer(['--requirepass', 'the-right-one']);
    const url = `redis://:wrong-password-9f2@127.0.0.1:${redis.port}`;
    const h = await startHarness({ env: { SCALEOUT_STORE: url } });
    try {
      const reply = await post(h, 'auth-1');
      expect(reply.statusCode).toBe(503);
      expect(reply.body).not.toContain('WRONGPASS');
      const line = h.logLines.find((l) => l.eventId === 'auth-1' || (l.msg === 'scale-out decision' && l.status === 503))!;
      expect(JSON.stringify(line)).toMatch(/authentication refused \(WRONGPASS invalid username-password pair/);
      expect(JSON.stringify(line)).toContain('check the password in SCALEOUT_STORE');
      for (const raw of h.rawLog) expect(raw).not.toContain('wrong-password-9f2');
      expect(h.sandbox.calls).toHaveLength(0);
    } finally {
      await h.close();
      await redis.stop();
    }
  });
});

describe('rediss:// to a server that does not speak TLS', () => {
  it('names the TLS failure in the log line of the 503', async () => {
    const redis = await startRedisServer();
    const h = await startHarness({ env: { SCALEOUT_STORE: `rediss://127.0.0.1:${redis.port}` }, config: (doc) => (doc.store = { commandTimeoutMs: 300 }) });
    try {
      // The first attempts may still be connecting; the TLS handshake times out, and says so.
      let line: Record<string, unknown> | undefined;
      for (let i = 0; i < 20 && line === undefined; i++) {
        const reply = await post(h, `tls-${i}`);
        expect(reply.statusCode).toBe(503);
        line = h.logLines.find((l) => l.msg === 'scale-out decision' && /TLS connection failed/.test(JSON.stringify(l)));
      }
      expect(JSON.stringify(line)).toContain('SCALEOUT_STORE is rediss://; does the server speak TLS on that port');
      expect(h.sandbox.calls).toHaveLength(0);
    } finally {
      await h.close();
      await redis.stop();
    }
  });
});
