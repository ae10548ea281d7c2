// Bundling shim (build/bundle.mjs, the ioredis.js beside the function): ioredis logs its internals
// through the `debug` package when DEBUG=ioredis:* is set. The function's own log line names what a
// Redis failure was (src/store/redis-store.ts); this keeps `debug`, supports-color and ms out of
// the zip and out of every cold start on Redis. Every namespace is disabled.
module.exports = function createDebug() {
  const debug = () => undefined;
  debug.enabled = false;
  debug.log = () => undefined;
  debug.extend = () => createDebug();
  return debug;
};
module.exports.enabled = () => false;
// ioredis calls it as `require("debug").default`, which the real package also provides.
module.exports.default = module.exports;
