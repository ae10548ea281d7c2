// Bundling shim (build/bundle.mjs): form-data, inside the Tencent Cloud SDK, looks up a MIME type
// only for file uploads (multipart calls), which this function never makes; the real lookup carries
// mime-db's ~130 KB table. Every lookup answers "unknown", as mime-types does for an unknown name.
module.exports = {
  lookup: () => false,
  contentType: () => false,
  extension: () => false,
  charset: () => false,
  types: {},
  extensions: {},
};
