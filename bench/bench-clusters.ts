/**
 * The clusters the hot path spreads its events over. One cluster taking 1,000 scale-outs an hour
 * would hold 1,000 grants in its throttle window, far past any real budget (the default is 20 nodes
 * an hour), and every decision reads and writes that window. Fifty clusters keep each window at a
 * realistic size; the single-cluster case is measured too, as its own row.
 */
export const HOT_CLUSTER_COUNT = 50;

export function benchClusters(): Array<{ alias: string; clusterId: string; region: string }> {
  return Array.from({ length: HOT_CLUSTER_COUNT }, (_, i) => ({
    alias: `hot-${i}`,
    clusterId: `cls-hot${String(i).padStart(5, '0')}`,
    region: 'ap-beijing',
  }));
}
