// Bundling shim (build/bundle.mjs, the ioredis.js beside the function): ioredis exports its Redis
// Cluster client from its root, a fifth of the client's code, evaluated whenever a Redis store is
// built. The function talks to one Redis (standalone, or TencentDB's cluster edition through its
// proxy) with the standalone client, and refuses a Redis Cluster node (docs/DESIGN.md, "The store's
// backend"); it never constructs a Cluster. Should one ever be constructed, it fails loudly.
exports.default = class Cluster {
  constructor() {
    throw new Error('Redis Cluster clients are not supported in this bundle (build/shims/ioredis-cluster.js)');
  }
};
