// Bundling shim (build/bundle.mjs, for json-bigint only): the Tencent Cloud SDK uses json-bigint
// (with native BigInt) only to stringify a request's body and the payload it signs. json-bigint's
// stringify requires bignumber.js at load for one test per value, "is this a BigNumber?", and its
// parse creates BigNumbers only without native BigInt, which the SDK never asks for. Loading the real
// bignumber.js runs its factory, which builds the whole BigNumber class (~19 KB minified, one large
// function): every cold start paid for it, and the code cache carried it compiled
// (build/make-code-cache.cjs). The test is bignumber.js 9's own `isBigNumber` (without its DEBUG
// mode, which only json-bigint's copy could switch on, and never does): the same answer for any
// value, so the SDK's bytes are unchanged. Should a BigNumber ever be made, it fails loudly.
function BigNumber() {
  throw new Error('BigNumber is not supported in this bundle (build/shims/json-bigint-bignumber.js)');
}
BigNumber.isBigNumber = (v) => Boolean(v) && v._isBigNumber === true;
module.exports = BigNumber;
