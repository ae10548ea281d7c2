import { clusterCostScope, reserveCost, type CostDecision, type CostState } from '../../../src/core/cost-budget';
import { MemoryStore } from '../../../src/store/memory-store';
import { RedisStore } from '../../../src/store/redis-store';
import type { StateStore, StoreStep } from '../../../src/store/state-store';
import { startRedisServer, type RedisServer } from '../../support/redis-server';
import { readValue } from '../../../src/core/store-step';

/**
 * The contract every StateStore keeps, run against memory and a real redis-server alike. Time is
 * the real clock: Redis expires keys by its own.
 */
let redis: RedisServer;
let prefixCounter = 0;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(() => redis.stop());

const stores: Array<[string, () => StateStore]> = [
  ['memory', () => new MemoryStore(Date.now, 3)],
  ['redis', () => new RedisStore({ url: redis.url, keyPrefix: `contract-${++prefixCounter}:`, now: Date.now })],
];

describe.each(stores)('%s store', (_kind, makeStore) => {
  const clock = { get now() { return Date.now(); } };
  let store: StateStore;
  beforeEach(() => {
    store = makeStore();
  });
  afterEach(() => store.close());

  const read = (key: string) => store.update<unknown, unknown>(key, readValue);
  const put = (key: string, value: unknown, ttlMs: number): Promise<void> =>
    store.update(key, (): StoreStep<unknown, void> => ({ write: { kind: 'put', value, expiresAt: clock.now + ttlMs }, result: undefined }));

  it('starts empty and returns what a step decides', async () => {
    expect(await read('k')).toBeUndefined();
    expect(await store.update('k', () => ({ write: { kind: 'keep' }, result: 42 }))).toBe(42);
  });

  it('keeps a value, as JSON, until it expires', async () => {
    await put('k', { a: [1, 'two', true, null] }, 300);
    expect(await read('k')).toEqual({ a: [1, 'two', true, null] });
    await new Promise((r) => setTimeout(r, 100));
    expect(await read('k')).toEqual({ a: [1, 'two', true, null] });
    await new Promise((r) => setTimeout(r, 300));
    expect(await read('k')).toBeUndefined();
  });

  it('treats a write that expires in the past as a delete', async () => {
    await put('k', 1, 1000);
    await put('k', 2, -1);
    expect(await read('k')).toBeUndefined();
  });

  it('hands each step a copy: mutating it changes nothing stored', async () => {
    await put('k', { n: 1 }, 1000);
    await store.update<{ n: number }, void>('k', (current) => {
      current!.n = 99;
      return { write: { kind: 'keep' }, result: undefined };
    });
    expect(await read('k')).toEqual({ n: 1 });
  });

  it('deletes', async () => {
    await put('k', 1, 1000);
    await store.update('k', () => ({ write: { kind: 'delete' }, result: undefined }));
    expect(await read('k')).toBeUndefined();
  });

  it('keeps keys apart', async () => {
    await put('a', 1, 1000);
    await put('b', 2, 1000);
    expect([await read('a'), await read('b')]).toEqual([1, 2]);
  });

  it('lets exactly one of many concurrent claims win', async () => {
    const claim = () =>
      store.update<string, boolean>('event', (current) =>
        current === undefined ? { write: { kind: 'put', value: 'mine', expiresAt: clock.now + 1000 }, result: true } : { write: { kind: 'keep' }, result: false },
      );
    const results = await Promise.all(Array.from({ length: 50 }, claim));
    expect(results.filter(Boolean)).toHaveLength(1);
  });

  it('never loses an update among concurrent writers of one key (read-decide-write is atomic)', async () => {
    const increment = () =>
      store.update<number, void>('counter', (current) => ({ write: { kind: 'put', value: (current ?? 0) + 1, expiresAt: clock.now + 10_000 }, result: undefined }));
    await Promise.all(Array.from({ length: 40 }, increment));
    expect(await read('counter')).toBe(40);
  });

  it('lets concurrent money reservations of many instances spend no more than the budget (core/cost-budget.ts)', async () => {
    const budget = { currency: 'CNY' as const, windowSeconds: 86_400, hourly: 5 };
    const reserve = (i: number) =>
      store.update<CostState, CostDecision>(clusterCostScope({ alias: 'a', clusterId: 'cls-aaaaaaaa', costBudget: budget })!.key, (current) =>
        reserveCost(current, { eventKey: `event-${i}`, claimId: `claim-${i}`, price: { kind: 'hourly', amount: 0.37 }, inFlightUntil: clock.now + 30_000 }, budget, clock.now),
      );
    const decisions = await Promise.all(Array.from({ length: 60 }, (_, i) => reserve(i)));
    // 13 × 0.37 = 4.81; a 14th would be 5.18.
    expect(decisions.filter((d) => d.kind === 'granted')).toHaveLength(13);
    expect(decisions.filter((d) => d.kind === 'over-budget')).toHaveLength(47);
  });

  it('answers ping', async () => {
    expect(await store.ping()).toBe(true);
  });
});

describe('RedisStore', () => {
  it('says it is shared', () => {
    const store = new RedisStore({ url: redis.url, keyPrefix: 'x:', now: Date.now });
    expect(store.shared).toBe(true);
    return store.close();
  });
});

describe('MemoryStore', () => {
  it('says it is not shared between function instances', () => {
    expect(new MemoryStore(Date.now).shared).toBe(false);
  });

  it('sweeps expired entries as it writes, so it does not grow without bound', async () => {
    const clock = { now: 0 };
    const store = new MemoryStore(() => clock.now, 2);
    for (let i = 0; i < 10; i++) {
      await store.update(`k${i}`, () => ({ write: { kind: 'put', value: i, expiresAt: clock.now + 5 }, result: undefined }));
      clock.now += 10;
    }
    expect((store as unknown as { entries: Map<string, unknown> }).entries.size).toBeLessThanOrEqual(2);
  });
});

describe('RedisStore when Redis goes away', () => {
  it('fails fast with StoreUnavailableError (503), then recovers by itself when Redis is back', async () => {
    const own = await startRedisServer();
    const store = new RedisStore({ url: own.url, keyPrefix: 'down:', now: Date.now, commandTimeoutMs: 300 });
    const write = (value: number) =>
      store.update<number, void>('k', () => ({ write: { kind: 'put', value, expiresAt: Date.now() + 60_000 }, result: undefined }));
    try {
      await write(1);
      await own.kill();

      const started = Date.now();
      await expect(write(2)).rejects.toMatchObject({ name: 'StoreUnavailableError', status: 503, code: 'StoreUnavailable' });
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(await store.ping()).toBe(false);

      await own.restart();
      // ioredis reconnects in the background (at most 2 s apart); no restart of the function.
      const deadline = Date.now() + 10_000;
      while (!(await store.ping()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      await write(3);
      expect(await store.update('k', readValue)).toBe(3);
    } finally {
      await store.close();
      await own.stop();
    }
  });

  it('bounds a call to a Redis that accepts connections but never answers', async () => {
    // A TCP server that swallows everything: a hung Redis.
    const { createServer } = await import('node:net');
    const sockets: import('node:net').Socket[] = [];
    const hung = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => hung.listen(0, '127.0.0.1', () => resolve()));
    const port = (hung.address() as { port: number }).port;
    const store = new RedisStore({ url: `redis://127.0.0.1:${port}`, keyPrefix: 'hung:', now: Date.now, commandTimeoutMs: 300 });
    try {
      const started = Date.now();
      await expect(store.update('k', () => ({ write: { kind: 'keep' }, result: 1 }))).rejects.toMatchObject({ code: 'StoreUnavailable' });
      expect(Date.now() - started).toBeLessThan(2_000);
    } finally {
      await store.close();
      sockets.forEach((s) => s.destroy());
      hung.close();
    }
  });
});
