// Bundling shim (build/bundle.mjs, for sonic-boom only): sonic-boom, pino's writer, requires Node's
// `assert` for one check, when a stream is closed (that its file descriptor is a number). Loading
// `assert` costs a cold start ~1.2 ms on Node 18.15 (its error class, call tracker and colour
// support come with it), for a check the function's stdout writer never fails. This makes the
// same check, and throws as `assert` would.
module.exports = function assert(value, message) {
  if (!value) throw Object.assign(new Error(message), { name: 'AssertionError', code: 'ERR_ASSERTION' });
};
