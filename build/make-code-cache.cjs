// node make-code-cache.cjs <function.js> <function.cache>: run by `npm run package` under the
// exact Node 18.15 binary (a cache is only accepted by the V8 that made it). Writes the sha256 of
// the source, then V8's cache of the script's top-level code, compiled exactly as
// build/function-loader.cjs compiles it.
'use strict';
const { createHash } = require('node:crypto');
const { readFileSync, writeFileSync } = require('node:fs');
const Module = require('node:module');
const { Script } = require('node:vm');

const [file, out] = process.argv.slice(2);
const source = readFileSync(file, 'utf8');
// The script's name is written into the cache: a fixed one keeps the cache the same wherever the
// packaging staged the file. V8 does not check it when loading; stack traces and profiles then name
// the file `function.js`, as the zip does.
const cache = new Script(Module.wrap(source), { filename: 'function.js' }).createCachedData();
writeFileSync(out, Buffer.concat([createHash('sha256').update(source).digest(), cache]));
