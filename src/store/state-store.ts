import type { StoreStep } from '../core/store-step';

export type { StoreStep, StoreWrite } from '../core/store-step';

/**
 * The smallest store the decision core needs: one atomic read-decide-write on one key.
 *
 * The decision itself stays a pure function (`step`, core/store-step.ts) that every store executes,
 * so memory and Redis cannot disagree about *what* to decide, only about how they make it atomic:
 * memory by running `step` synchronously inside one event-loop turn, Redis by an optimistic
 * compare-and-set (a GET, the step, then a Lua script that writes only if the key still holds what
 * was read; store/redis-store.ts) that re-runs `step` when another instance wrote the key first.
 * Hence: `step` must be pure and may run more than once.
 *
 * Values are JSON: the memory store round-trips them through JSON too, so a value that would not
 * survive Redis does not survive memory either, and the two pass the same tests.
 */
export type StoreKind = 'memory' | 'redis';

/** What a store found about its backend (Redis: its eviction policy, whether it is a cluster node). */
export interface StoreCheck {
  readonly evictionPolicy?: string;
  /** Set when the store must not be used: what is wrong and how to fix it. */
  readonly problem?: string;
  /** Set when a risk was accepted by the config. */
  readonly warning?: string;
}

export interface StateStore {
  readonly kind: StoreKind;
  /** True when the state is shared by every instance of the function (Redis), false for memory. */
  readonly shared: boolean;
  update<V, R>(key: string, step: (current: V | undefined) => StoreStep<V, R>): Promise<R>;
  /**
   * Whether the backend is one the store may serve from (cached by the store). Throws
   * StoreUnavailableError when it cannot be reached. Absent: nothing to check (memory).
   */
  check?(): Promise<StoreCheck>;
  /** Reachable and answering: for /healthz. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}
