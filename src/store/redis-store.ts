import Redis, { type RedisOptions } from 'ioredis';
import { StoreUnavailableError } from '../errors';
import type { StateStore, StoreStep } from './state-store';

/**
 * State shared by every function instance, in Redis 6 or 7 (TencentDB for Redis, standalone or
 * behind its cluster proxy).
 *
 * Each `update` is one optimistic compare-and-set on one key:
 *
 *   GET key ──▶ step(current) (pure, in TypeScript) ──▶ EVAL cas: "if key still holds what I read,
 *                                                        apply my write"  ──▶ 1: done
 *                                                                         └─▶ 0: someone wrote first:
 *                                                                               read again, decide again
 *
 * The decision logic is the same TypeScript function the memory store runs; the Lua script only
 * compares and writes, so there is no second copy of any rule in Lua. It works on one shared
 * connection (unlike WATCH, which belongs to a connection) and touches one key, so it runs on any
 * Redis Cluster slot layout. A step that writes nothing returns at once: its GET was a consistent
 * snapshot.
 *
 * Every command has a timeout and the client does not queue while disconnected: a hung or absent
 * Redis costs at most `commandTimeoutMs` per call and surfaces as StoreUnavailableError (503), and
 * ioredis reconnects in the background so the function recovers by itself.
 */
const CAS_SCRIPT = `
local current = redis.call('GET', KEYS[1])
if ARGV[1] == '1' then
  if current ~= ARGV[2] then return 0 end
elseif current then
  return 0
end
if ARGV[3] == 'put' and tonumber(ARGV[5]) > 0 then
  redis.call('SET', KEYS[1], ARGV[4], 'PX', ARGV[5])
else
  redis.call('DEL', KEYS[1])
end
return 1
`;

export interface RedisStoreOptions {
  /** redis://[user:password@]host:port[/db] or rediss:// for TLS. */
  readonly url: string;
  /** Prepended to every key, e.g. "tke-scaleout:" (several deployments can share one Redis). */
  readonly keyPrefix: string;
  readonly now: () => number;
  /** Upper bound for one Redis command, and for waiting for a connection. */
  readonly commandTimeoutMs?: number;
  /** Compare-and-set rounds before giving up on a key many writers fight over. */
  readonly maxCasRounds?: number;
}

type CasRedis = Redis & {
  scaleoutCas(key: string, expectExisting: string, expected: string, op: string, value: string, ttlMs: number): Promise<number>;
};

export class RedisStore implements StateStore {
  readonly kind = 'redis' as const;
  readonly shared = true;
  private readonly redis: CasRedis;
  private readonly commandTimeoutMs: number;
  private readonly maxCasRounds: number;
  private readyWait: Promise<void> | undefined;

  constructor(private readonly options: RedisStoreOptions) {
    this.commandTimeoutMs = options.commandTimeoutMs ?? 500;
    this.maxCasRounds = options.maxCasRounds ?? 50;
    const clientOptions: RedisOptions = {
      commandTimeout: this.commandTimeoutMs,
      connectTimeout: Math.max(1000, this.commandTimeoutMs * 2),
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      // Keep trying in the background, never more than 2 s apart: recovery without a restart.
      retryStrategy: (attempt) => Math.min(100 * attempt, 2000),
      lazyConnect: false,
    };
    this.redis = new Redis(options.url, clientOptions) as CasRedis;
    // Errors surface through commands; an unhandled 'error' event would crash the process.
    this.redis.on('error', () => undefined);
    this.redis.defineCommand('scaleoutCas', { numberOfKeys: 1, lua: CAS_SCRIPT });
  }

  async update<V, R>(key: string, step: (current: V | undefined) => StoreStep<V, R>): Promise<R> {
    const fullKey = this.options.keyPrefix + key;
    for (let round = 1; round <= this.maxCasRounds; round++) {
      const raw = await this.command(() => this.redis.get(fullKey));
      const current = raw === null ? undefined : (JSON.parse(raw) as V);
      const { write, result } = step(current);
      if (write.kind === 'keep') return result;
      const ttlMs = write.kind === 'put' ? write.expiresAt - this.options.now() : 0;
      const applied = await this.command(() =>
        this.redis.scaleoutCas(
          fullKey,
          raw === null ? '0' : '1',
          raw ?? '',
          write.kind,
          write.kind === 'put' ? JSON.stringify(write.value) : '',
          Math.floor(ttlMs),
        ),
      );
      if (applied === 1) return result;
      // Another instance wrote first. Decide again on what it wrote, after a short random pause so
      // that many contenders do not collide in lockstep.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(50, 2 * round)));
    }
    throw new StoreUnavailableError(`state key contended beyond ${this.maxCasRounds} rounds; retry`);
  }

  async ping(): Promise<boolean> {
    try {
      return (await this.command(() => this.redis.ping())) === 'PONG';
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }

  private async command<T>(run: () => Promise<T>): Promise<T> {
    try {
      await this.ready();
      return await run();
    } catch (error) {
      if (error instanceof StoreUnavailableError) throw error;
      throw new StoreUnavailableError('the state store (Redis) did not answer', { cause: error });
    }
  }

  /**
   * Right after a cold start (or during a reconnect) the client is not ready yet: wait, within the
   * timeout. Concurrent callers share one wait (one listener, not one each).
   */
  private ready(): Promise<void> {
    if (this.redis.status === 'ready') return Promise.resolve();
    this.readyWait ??= new Promise<void>((resolve, reject) => {
      const settle = (error?: Error) => {
        clearTimeout(timer);
        this.redis.off('ready', onReady);
        this.readyWait = undefined;
        if (error === undefined) resolve();
        else reject(error);
      };
      const onReady = () => settle();
      const timer = setTimeout(() => settle(new StoreUnavailableError('the state store (Redis) is not connected')), this.commandTimeoutMs);
      this.redis.once('ready', onReady);
    });
    return this.readyWait;
  }
}
