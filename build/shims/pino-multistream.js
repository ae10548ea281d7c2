// Bundling shim (build/bundle.mjs, for pino only): pino exports `pino.multistream` (one logger
// writing to several streams), which src/log/logger.ts never uses: it writes to stdout alone. The
// real module was only shipped, set up at every cold start and carried in the code cache for
// nothing. Should it ever be called, it fails loudly instead of dropping log lines.
module.exports = function multistream() {
  throw new Error('pino.multistream is not supported in this bundle (build/shims/pino-multistream.js)');
};
