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

/** The step that only reads: the key's value as it is, nothing written. */
export function readValue<V>(current: V | undefined): StoreStep<V, V | undefined> {
  return { write: { kind: 'keep' }, result: current };
}
