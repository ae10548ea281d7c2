// index.js of the zip (SCF's handler is index.main_handler): loads function.js, the bundled
// function, with the V8 code cache that `npm run package` made for it under Node 18.15 after the
// function answered one event (build/make-code-cache.cjs), so that a cold start neither compiles
// the bundle nor the functions its first event runs (docs/PERFORMANCE.md has the numbers). Plain
// CommonJS, shipped as it is.
//
// function.cache is the sha256 of the function.js it was made from (32 bytes), the version of the
// Node that made it (16 bytes), then V8's cache. V8 checks its own version and flags, and rejects a
// cache that does not match them; it checks the source only by its length, so the digest is what
// makes an edited function.js compile afresh instead of running against another file's cache. Any
// mismatch, or no cache at all, only means V8 compiles as it would have: the function behaves the
// same either way, and a cold start is slower. Which it was is `codeCache` on the exports
// ('accepted', 'rejected', 'stale', 'absent'; for the bundle test and the bench), and, with the
// reason, SCALEOUT_CODE_CACHE in the environment, which the function's cold-start log line carries
// (src/cold-start.ts): an operator whose runtime starts Node with other V8 flags sees why.
'use strict';
const { createHash } = require('node:crypto');
const { readFileSync } = require('node:fs');
const Module = require('node:module');
const { join } = require('node:path');
const { Script } = require('node:vm');

const file = join(__dirname, 'function.js');
const bytes = readFileSync(file);
const source = bytes.toString();
const COMPILED = 'function.js compiled at cold start';
let cachedData;
let madeBy;
let codeCache = 'absent';
let why = `absent: no function.cache beside function.js; ${COMPILED}`;
try {
  const packed = readFileSync(join(__dirname, 'function.cache'));
  madeBy = packed.toString('latin1', 32, 48).replace(/\0+$/, '');
  if (packed.subarray(0, 32).equals(createHash('sha256').update(bytes).digest())) cachedData = packed.subarray(48);
  else [codeCache, why] = ['stale', `stale: function.cache was made for another function.js (edited after packaging?); ${COMPILED}`];
} catch {
  // No cache beside it (a plain `npm run build`): compile as usual.
}
const script = new Script(Module.wrap(source), { filename: file, cachedData });
if (cachedData !== undefined) {
  if (!script.cachedDataRejected) [codeCache, why] = ['accepted', 'accepted'];
  else {
    // V8 takes a cache only from its own version started with the same V8 flags (a heap limit such
    // as --max-old-space-size among them), and only if its checksum holds: say which it was.
    const flags = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].filter((flag) => flag.startsWith('--'));
    const started = flags.length > 0 ? `started with ${flags.join(' ')}` : 'started with no flags';
    codeCache = 'rejected';
    why = madeBy === process.version && flags.length === 0
      ? `rejected by V8: made by this Node (${madeBy}) started with no flags, as this one, so function.cache is damaged; ${COMPILED}`
      : `rejected by V8: made by Node ${madeBy} started with no flags, this is Node ${process.version} ${started}; ${COMPILED}`;
  }
}
process.env.SCALEOUT_CODE_CACHE = why;
// As Node's own loader runs a CommonJS file: function.js's module.exports become this module's.
script.runInThisContext()(module.exports, require, module, file, __dirname);
module.exports.codeCache = codeCache;
