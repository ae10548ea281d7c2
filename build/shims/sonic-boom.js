// Bundling shim (build/bundle.mjs): pino builds a sonic-boom stream only for pino.destination()
// or when it is given no destination. src/log/logger.ts gives it its own: each line written to
// stdout with fs.writeSync, as sonic-boom does with `sync: true`, so the real sonic-boom would
// only be shipped and compiled at every cold start for nothing (~9 KB of the bundle). Should
// anything build one, it fails loudly instead of dropping log lines.
module.exports = class SonicBoom {
  constructor() {
    throw new Error('sonic-boom is not in this bundle: log through src/log/logger.ts (build/shims/sonic-boom.js)');
  }
};
