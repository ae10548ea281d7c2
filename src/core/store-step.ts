/**
 * The port the decision core needs from a store: a decision over one key's current value, returned
 * as data. A store (store/state-store.ts) reads the key, runs the step, and applies its write
 * atomically; the step must be pure, since a store may run it more than once (Redis re-runs it when
 * another instance wrote the key first).
 */
export type StoreWrite<V> =
  | { readonly kind: 'put'; readonly value: V; /** epoch ms; the store forgets the key after it */ readonly expiresAt: number }
  | { readonly kind: 'delete' }
  | { readonly kind: 'keep' };

export interface StoreStep<V, R> {
  readonly write: StoreWrite<V>;
  readonly result: R;
}
