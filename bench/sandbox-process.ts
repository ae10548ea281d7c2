/**
 * The TKE sandbox in a process of its own, so that the function and the SDK being measured do not
 * share an event loop with the server they call. Prints its URL, then serves until SIGTERM.
 * Quotas are effectively unlimited: the benchmark adds thousands of nodes.
 */
import { DEFAULT_SANDBOX_CLUSTERS, TkeSandbox } from '../dev/sandbox/tke-sandbox';
import { benchClusters } from './bench-clusters';

const sandbox = new TkeSandbox({
  clusters: [...DEFAULT_SANDBOX_CLUSTERS, ...benchClusters().map((c) => ({ clusterId: c.clusterId, region: c.region }))].map((c) => ({ ...c, maxNodes: 1_000_000 })),
});
sandbox.start().then((url) => console.log(url));
// The sandbox records every call for tests; a benchmark of 10,000 events does not need them.
setInterval(() => (sandbox.calls.length = 0), 1000).unref();
process.once('SIGTERM', () => void sandbox.stop().then(() => process.exit(0)));
