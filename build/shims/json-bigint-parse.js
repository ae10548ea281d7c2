// Bundling shim (build/bundle.mjs, for json-bigint only): the Tencent Cloud SDK uses json-bigint to
// stringify a request's body and the payload it signs, never to parse (it parses answers with
// JSON.parse). json-bigint's index builds two parsers when it loads and one per JSONBigInt(options)
// call, each a large closure (json2.js's parser): every cold start built them for nothing, and the
// code cache carried them compiled (build/make-code-cache.cjs). Should one ever parse, it fails loudly.
module.exports = function jsonBigintParse() {
  return function parse() {
    throw new Error('json-bigint parse is not supported in this bundle (build/shims/json-bigint-parse.js)');
  };
};
