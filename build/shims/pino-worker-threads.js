// Bundling shim (build/bundle.mjs, for pino only): pino's lib/tools.js requires Node's
// `worker_threads` for `isMainThread` alone, which it reads only for an asynchronous destination (to
// flush it when the process exits). src/log/logger.ts writes synchronously (pino.destination with
// `sync: true`), so the value is never read; loading `worker_threads` costs a cold start ~0.4 ms on
// Node 18.15. The function runs on SCF's main thread, which is what this says.
module.exports = { isMainThread: true };
