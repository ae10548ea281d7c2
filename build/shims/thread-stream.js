// Bundling shim (build/bundle.mjs): pino starts a worker thread through thread-stream only for a
// transport (`pino.transport()` or the `transport` option). src/log/logger.ts writes JSON lines to
// stdout synchronously (syncWriter) and never configures a transport, so the real
// thread-stream would only be shipped and compiled at every cold start for nothing. Should a
// transport ever be configured, it fails loudly instead of dropping log lines.
module.exports = class ThreadStream {
  constructor() {
    throw new Error('pino transports are not supported in this bundle (build/shims/thread-stream.js)');
  }
};
