/**
 * The faults a sandbox was told to inject, in order: each applies to the calls it matches, after
 * letting `skip` of them through, `remaining` times, then is gone. One rule for every stand-in
 * (tke-sandbox.ts, kube-sandbox.ts), so "the second DeleteClusterInstances" means the same in both.
 */
export interface QueuedFault {
  remaining: number;
  skip: number;
}

/** The first fault that matches this call and is due, used once; undefined when none is. */
export function takeFault<F extends QueuedFault>(faults: F[], matches: (fault: F) => boolean): F | undefined {
  const index = faults.findIndex(matches);
  if (index < 0) return undefined;
  const fault = faults[index]!;
  if (fault.skip > 0) {
    fault.skip--;
    return undefined;
  }
  if (--fault.remaining <= 0) faults.splice(index, 1);
  return fault;
}
