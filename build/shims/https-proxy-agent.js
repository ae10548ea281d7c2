// Bundling shim (build/bundle.mjs): the Tencent Cloud SDK creates an HttpsProxyAgent only when a call
// has no agent of its own and http_proxy is set. src/tke/sdk-tke-api.ts always passes its own agent
// (so that http_proxy cannot divert calls to the sandbox or to TKE), so this path is never taken;
// its agent-base and debug dependencies need not be evaluated at every cold start.
module.exports = class HttpsProxyAgent {
  constructor() {
    throw new Error('proxied requests are not supported in this bundle (build/shims/https-proxy-agent.js)');
  }
};
