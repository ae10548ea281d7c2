import Redis, { type RedisOptions } from 'ioredis';
import { StoreUnavailableError } from '../errors';
import type { StateStore, StoreCheck, StoreStep } from './state-store';

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
  /**
   * Accept a maxmemory-policy that may evict our keys (every key has a TTL, so every `allkeys-*`
   * and `volatile-*` policy can). Off by default: the store refuses to serve on such a Redis.
   */
  readonly acceptEvictingPolicy?: boolean;
}

/** Re-check this often: an operator may fix the policy while the instance lives. */
const CHECK_TTL_MS = { ok: 5 * 60_000, refused: 10_000 } as const;

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
  /** The last connection error, named (AUTH refused, TLS, refused connection): what "not connected" means. */
  private lastError: string | undefined;
  private checked: { result: StoreCheck; until: number } | undefined;
  private checking: Promise<StoreCheck> | undefined;

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
    // Errors surface through commands; an unhandled 'error' event would crash the process. The
    // last one is kept: it is what a command that finds no connection reports.
    const tls = options.url.startsWith('rediss:');
    this.redis.on('error', (error: Error & { code?: string }) => {
      this.lastError = describeConnectionError(error, tls);
    });
    this.redis.on('ready', () => {
      this.lastError = undefined;
    });
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

  /**
   * Whether this Redis is one the store may serve from, checked before the first decision and
   * every few minutes after (cached; concurrent callers share one check):
   *  - maxmemory-policy (from INFO, since CONFIG is often disabled on managed Redis): anything but
   *    `noeviction` may evict our keys under memory pressure, and an evicted idempotency or throttle
   *    record means a duplicate purchase or a budget reset. Refused unless the config accepts it.
   *  - a Redis Cluster node (INFO cluster: cluster_enabled:1) that does not itself serve all 16384
   *    slots (CLUSTER SLOTS): this client is not cluster-aware, so keys of other slots would answer
   *    MOVED. Refused, naming the fix. A node that serves every slot (a one-shard cluster), or a
   *    proxy that reports cluster mode but does not answer CLUSTER SLOTS (TencentDB for Redis's
   *    cluster edition through its proxy address routes every key itself), is served from.
   * Throws StoreUnavailableError when Redis cannot be reached (not cached: the next call retries).
   */
  async check(): Promise<StoreCheck> {
    const now = this.options.now();
    if (this.checked !== undefined && now < this.checked.until) return this.checked.result;
    this.checking ??= this.runCheck().finally(() => {
      this.checking = undefined;
    });
    return this.checking;
  }

  private async runCheck(): Promise<StoreCheck> {
    let info: string;
    try {
      info = await this.command(() => this.redis.info());
    } catch (error) {
      if (error instanceof StoreUnavailableError && !(error.cause instanceof Error && /ERR|NOPERM|unknown command/i.test(error.cause.message))) throw error;
      // INFO itself refused (renamed or not permitted): the policy cannot be known.
      const result: StoreCheck = this.options.acceptEvictingPolicy
        ? { warning: 'maxmemory-policy could not be read (INFO refused); accepted by store.acceptEvictingPolicy' }
        : { problem: 'the Redis in SCALEOUT_STORE does not answer INFO, so its maxmemory-policy cannot be checked; make sure it is noeviction and set store.acceptEvictingPolicy: true' };
      return this.remember(result);
    }
    const field = (name: string) => new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim();
    const policy = field('maxmemory_policy');
    if (field('cluster_enabled') === '1') {
      const served = await this.slotsServedHere();
      if (served !== undefined && served < 16384) {
        return this.remember({
          ...(policy !== undefined && { evictionPolicy: policy }),
          problem: `SCALEOUT_STORE points at a node of a Redis Cluster (cluster_enabled:1) that serves ${served} of its 16384 slots, and this client is not cluster-aware: keys of other slots would be refused with MOVED. Use a standalone Redis, or TencentDB for Redis cluster edition through its proxy address`,
        });
      }
    }
    if (policy === undefined || policy === 'noeviction') return this.remember({ evictionPolicy: policy ?? 'unknown' });
    const risk = `maxmemory-policy ${policy} lets Redis evict this function's keys (each has a TTL) under memory pressure: an evicted idempotency or throttle record means nodes bought twice or a budget reset`;
    return this.remember(
      this.options.acceptEvictingPolicy
        ? { evictionPolicy: policy, warning: `${risk}; accepted by store.acceptEvictingPolicy` }
        : { evictionPolicy: policy, problem: `${risk}. Set maxmemory-policy noeviction (TencentDB for Redis: the instance's parameter settings), or accept the risk with store.acceptEvictingPolicy: true` },
    );
  }

  /**
   * Slots served by the node this client talks to, from CLUSTER SLOTS (ranges, each with its
   * master first): all 16384 only when one master serves them all and that master is this node.
   * Undefined when the command is not answered (a proxy in front of a cluster).
   */
  private async slotsServedHere(): Promise<number | undefined> {
    let ranges: unknown;
    let myId: unknown;
    try {
      [ranges, myId] = await Promise.all([this.command(() => this.redis.cluster('SLOTS')), this.command(() => this.redis.cluster('MYID'))]);
    } catch {
      return undefined;
    }
    if (!Array.isArray(ranges)) return undefined;
    let served = 0;
    for (const range of ranges) {
      if (!Array.isArray(range)) continue;
      const [start, end, master] = range as [unknown, unknown, unknown];
      const masterId = Array.isArray(master) ? master[2] : undefined;
      if (typeof start === 'number' && typeof end === 'number' && masterId === myId) served += end - start + 1;
    }
    return served;
  }

  private remember(result: StoreCheck): StoreCheck {
    this.checked = { result, until: this.options.now() + (result.problem === undefined ? CHECK_TTL_MS.ok : CHECK_TTL_MS.refused) };
    return result;
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
      const timer = setTimeout(
        () => settle(new StoreUnavailableError(`the state store (Redis) is not connected${this.lastError !== undefined ? `: ${this.lastError}` : ''}`)),
        this.commandTimeoutMs,
      );
      this.redis.once('ready', onReady);
    });
    return this.readyWait;
  }
}

/**
 * A connection error in words an operator can act on. ioredis's messages name the failure (the
 * server's WRONGPASS or NOAUTH reply, ECONNREFUSED with host and port, a TLS alert) and never the
 * password, which lives only in the URL; the URL itself is never part of them.
 */
function describeConnectionError(error: Error & { code?: string }, tls: boolean): string {
  const message = error.message.split('\n')[0]!.slice(0, 200);
  if (/WRONGPASS|NOAUTH|invalid password|AUTH/i.test(message)) return `authentication refused (${message}): check the password in SCALEOUT_STORE`;
  if (tls && /TLS|SSL|certificate|ETIMEDOUT|disconnected|ECONNRESET/i.test(`${message} ${error.code ?? ''}`)) {
    return `TLS connection failed (${message}): SCALEOUT_STORE is rediss://; does the server speak TLS on that port, with a certificate this runtime trusts?`;
  }
  return message;
}
