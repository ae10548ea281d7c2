// Bundling shim (build/bundle.mjs): the Tencent Cloud SDK builds a multipart form only for calls made
// with `multipart: true` (file uploads). This function never makes one, so the real form-data (with
// combined-stream, asynckit, mime-types and mime-db's table) would only be evaluated at every cold
// start for nothing. Should a multipart call ever be made, it fails loudly instead of sending wrong bytes.
module.exports = class FormData {
  constructor() {
    throw new Error('multipart requests are not supported in this bundle (build/shims/form-data.js)');
  }
};
