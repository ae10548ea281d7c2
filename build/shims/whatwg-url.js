// Bundling shim (build/bundle.mjs): node-fetch v2, inside the Tencent Cloud SDK, requires the npm
// `whatwg-url` only for its URL class, which drags in tr46's ~260 KB Unicode mapping table. Node's
// built-in URL is the same WHATWG URL, so the bundle uses it instead. The SDK itself is unchanged.
module.exports = { URL: globalThis.URL, URLSearchParams: globalThis.URLSearchParams };
