// Bundling shim (build/bundle.mjs, the ioredis.js beside the function): ioredis ships the CA
// certificates of one hosting provider's Redis as named TLS "profiles", looked up only when its
// options name `tls.profile`. The function's TLS options come from a rediss:// URL alone and never
// name a profile, so the lookup always finds nothing, as it does here.
exports.default = {};
