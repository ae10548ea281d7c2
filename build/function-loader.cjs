// index.js of the zip (SCF's handler is index.main_handler): loads function.js, the bundled
// function, with the V8 code cache that `npm run package` made for it under Node 18.15, so that a
// cold start does not compile the bundle's top-level code again (docs/PERFORMANCE.md: loading the
// bundle ~14 ms -> ~3.5 ms). Plain CommonJS, shipped as it is.
//
// function.cache is the sha256 of the function.js it was made from (32 bytes), then V8's cache. V8
// checks its own version and flags, and rejects a cache that does not match them; it checks the
// source only by its length, so the digest is what makes an edited function.js compile afresh
// instead of running against another file's cache. Any mismatch, or no cache at all, only means
// V8 compiles as it would have: the function behaves the same either way. `codeCache` on the exports
// says which it was ('accepted', 'rejected', 'stale', 'absent'), for the bundle test and the bench.
'use strict';
const { createHash } = require('node:crypto');
const { readFileSync } = require('node:fs');
const Module = require('node:module');
const { join } = require('node:path');
const { Script } = require('node:vm');

const file = join(__dirname, 'function.js');
const source = readFileSync(file, 'utf8');
let cachedData;
let codeCache = 'absent';
try {
  const packed = readFileSync(join(__dirname, 'function.cache'));
  if (packed.subarray(0, 32).equals(createHash('sha256').update(source).digest())) cachedData = packed.subarray(32);
  else codeCache = 'stale';
} catch {
  // No cache beside it (a plain `npm run build`): compile as usual.
}
const script = new Script(Module.wrap(source), { filename: file, cachedData });
if (cachedData !== undefined) codeCache = script.cachedDataRejected ? 'rejected' : 'accepted';
// As Node's own loader runs a CommonJS file: function.js's module.exports become this module's.
script.runInThisContext()(module.exports, require, module, file, __dirname);
module.exports.codeCache = codeCache;
