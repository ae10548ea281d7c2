import { MemoryStore } from '../../../src/store/memory-store';
import type { StateStore, StoreStep } from '../../../src/store/state-store';

/**
 * The contract every StateStore keeps. The Redis store joins this table when it lands; the cases
 * are written against the interface only.
 */
interface Clock {
  now: number;
}
const stores: Array<[string, (clock: Clock) => StateStore]> = [['memory', (clock) => new MemoryStore(() => clock.now, 3)]];

describe.each(stores)('%s store', (_kind, makeStore) => {
  let clock: Clock;
  let store: StateStore;
  beforeEach(() => {
    clock = { now: 1_000_000 };
    store = makeStore(clock);
  });
  afterEach(() => store.close());

  const read = (key: string) => store.update<unknown, unknown>(key, (current) => ({ write: { kind: 'keep' }, result: current }));
  const put = (key: string, value: unknown, ttlMs: number): Promise<void> =>
    store.update(key, (): StoreStep<unknown, void> => ({ write: { kind: 'put', value, expiresAt: clock.now + ttlMs }, result: undefined }));

  it('starts empty and returns what a step decides', async () => {
    expect(await read('k')).toBeUndefined();
    expect(await store.update('k', () => ({ write: { kind: 'keep' }, result: 42 }))).toBe(42);
  });

  it('keeps a value, as JSON, until it expires', async () => {
    await put('k', { a: [1, 'two', true, null] }, 1000);
    expect(await read('k')).toEqual({ a: [1, 'two', true, null] });
    clock.now += 999;
    expect(await read('k')).toEqual({ a: [1, 'two', true, null] });
    clock.now += 1;
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

  it('answers ping', async () => {
    expect(await store.ping()).toBe(true);
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
