// Bundling shim (build/bundle.mjs, for pino only): pino's lib/transport.js starts a worker thread
// for `pino.transport()` or the `transport` option (through thread-stream, itself a stub here).
// src/log/logger.ts writes JSON lines to stdout synchronously and never configures a transport, so
// the real module (with its caller lookup, atomic-sleep and exit hooks) was only shipped, set up at
// every cold start and carried in the code cache for nothing. Should a transport ever be configured,
// it fails loudly instead of dropping log lines.
module.exports = function transport() {
  throw new Error('pino transports are not supported in this bundle (build/shims/pino-transport.js)');
};
