import type { StateStore, StoreStep } from './state-store';

interface Entry {
  readonly json: string;
  readonly expiresAt: number;
}

/**
 * State in this process only. Right for one function instance and for local use; with several SCF
 * instances each has its own, so duplicates that land on different instances are not caught
 * (`shared: false` says so on /healthz and in the log). Redis is the shared store.
 */
export class MemoryStore implements StateStore {
  readonly kind = 'memory' as const;
  readonly shared = false;
  private readonly entries = new Map<string, Entry>();
  private writesSinceSweep = 0;

  constructor(
    private readonly now: () => number,
    /** Sweep expired entries every this many writes, so a long-lived instance does not grow without bound. */
    private readonly sweepEvery = 1000,
  ) {}

  async update<V, R>(key: string, step: (current: V | undefined) => StoreStep<V, R>): Promise<R> {
    // Everything from read to write happens in this one synchronous turn: no other update can
    // interleave, which is what makes it atomic in one process.
    const entry = this.entries.get(key);
    const current = entry !== undefined && entry.expiresAt > this.now() ? (JSON.parse(entry.json) as V) : undefined;
    const { write, result } = step(current);
    if (write.kind === 'put') {
      this.entries.set(key, { json: JSON.stringify(write.value), expiresAt: write.expiresAt });
      if (++this.writesSinceSweep >= this.sweepEvery) this.sweep();
    } else if (write.kind === 'delete') {
      this.entries.delete(key);
    }
    return result;
  }

  async ping(): Promise<boolean> {
    return true;
  }

  async close(): Promise<void> {
    this.entries.clear();
  }

  private sweep(): void {
    this.writesSinceSweep = 0;
    const now = this.now();
    for (const [key, entry] of this.entries) if (entry.expiresAt <= now) this.entries.delete(key);
  }
}
