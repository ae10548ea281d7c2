// node --random-seed=1 make-code-cache.cjs <function folder> <warm-up code root>
//
// Run by `npm run package` under the exact Node 18.15 binary (V8 takes a cache only from the V8 that
// made it, with the same flags). Writes <function folder>/function.cache: the sha256 of function.js
// (32 bytes), the version of the Node that made the cache (16 bytes, NUL-padded), then V8's code
// cache of function.js, compiled exactly as build/function-loader.cjs compiles it.
//
// The cache is taken after the function has answered one event, not after compiling its top-level
// code only. V8 puts in a cache every function of the script compiled so far, so this one also holds
// the module set-up the bundle runs on its first invocation (src/index.ts builds the function then)
// and every function that event ran: reading the config, the sender, the throttle and idempotency
// steps, the render, the SDK's signing and HTTP stack, the log line. A cold start then compiles
// almost nothing (docs/PERFORMANCE.md has the numbers of each choice).
//
// The event: a generic scale-out of the example config (`demo-bj`, template `multi-disk`, one node),
// answered by a stand-in for TKE on loopback that this process starts (no network; it answers
// CreateClusterInstances with one instance ID), every secret the config names set to a placeholder
// (as on a deployed function; the generic sender, the one built for this event, reads its token as in
// production; each other sender is built on its first use, src/sources/index.ts), the memory store,
// the log line at level info (to stdout, which packaging discards). It is the same event for any
// packaged config: the warm-up code root holds the example config compiled to JSON with its
// validated form (made by package.mjs), so the cache depends on function.js alone. What an operator's own senders run on their first event
// and the warm-up did not (another sender's payload schema, say) is compiled then, as without a cache.
//
// Reproducible: run twice on the same function.js, it writes the same bytes (the bundle test checks
// it). --random-seed fixes V8's hash seed, which is otherwise random per process and is written into
// the cache; the rest is what the event compiled, which is the same every time. The seed is not
// among the flags V8 checks when it loads a cache.
'use strict';
const { createHash } = require('node:crypto');
const { readFileSync, writeFileSync } = require('node:fs');
const http = require('node:http');
const Module = require('node:module');
const { join, resolve } = require('node:path');
const { Script } = require('node:vm');

const [functionDir, warmUpRoot] = process.argv.slice(2).map((p) => resolve(p));
if (functionDir === undefined || warmUpRoot === undefined) throw new Error('usage: make-code-cache.cjs <function folder> <warm-up code root>');
const file = join(functionDir, 'function.js');
const bytes = readFileSync(file);
const source = bytes.toString();
// The script's name is written into the cache: a fixed one keeps the cache the same wherever the
// packaging staged the file. V8 does not check it when loading.
const script = new Script(Module.wrap(source), { filename: 'function.js' });

const WARM_UP_TOKEN = 'warm-up-token';
const warmUpEvent = {
  httpMethod: 'POST',
  path: '/hooks/generic',
  headers: { 'content-type': 'application/json', authorization: `Bearer ${WARM_UP_TOKEN}` },
  queryString: {},
  body: JSON.stringify({ eventId: 'code-cache-warm-up', cluster: 'demo-bj', template: 'multi-disk' }),
};

/** The environment variables a config names: the values of its keys ending in `Env`. */
function namedVariables(value, key = '') {
  if (typeof value === 'string') return key.endsWith('Env') ? [value] : [];
  if (Array.isArray(value)) return value.flatMap((item) => namedVariables(item, key));
  if (value !== null && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => namedVariables(v, k));
  return [];
}

/** TKE for one call: CreateClusterInstances answered with one instance, as the API shapes it. */
function startTkeStandIn() {
  const server = http.createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ Response: { InstanceIdSet: ['ins-warmup00'], RequestId: 'code-cache-warm-up' } }));
    });
  });
  return new Promise((resolveListening) => server.listen(0, '127.0.0.1', () => resolveListening(server)));
}

async function main() {
  const tke = await startTkeStandIn();
  // The environment of a deployed function, with placeholders: every variable the config names
  // (its senders' secrets, the health token) is set, so that the sender the event needs is built as
  // it is in production. Nothing of the packaging's own environment reaches the function.
  for (const key of Object.keys(process.env)) if (key !== 'PATH') delete process.env[key];
  for (const name of namedVariables(JSON.parse(readFileSync(join(warmUpRoot, 'config', 'scaleout.json'), 'utf8')))) process.env[name] = `warm-up-${name.toLowerCase()}`;
  Object.assign(process.env, {
    USER_CODE_ROOT: warmUpRoot,
    TENCENTCLOUD_SECRETID: 'AKIDcodeCacheWarmUp',
    TENCENTCLOUD_SECRETKEY: 'code-cache-warm-up',
    TKE_ENDPOINT: `http://127.0.0.1:${tke.address().port}`,
    SCALEOUT_GENERIC_TOKEN: WARM_UP_TOKEN,
    LOG_LEVEL: 'info',
  });
  // As the loader runs it: function.js's module, its require resolving beside it (ioredis.js).
  const loaded = { exports: {} };
  script.runInThisContext()(loaded.exports, Module.createRequire(file), loaded, file, functionDir);
  const answer = await loaded.exports.main_handler(warmUpEvent, { request_id: 'code-cache-warm-up', time_limit_in_ms: 30000 });
  const status = answer.statusCode === 200 ? JSON.parse(answer.body).status : undefined;
  if (status !== 'created') throw new Error(`the warm-up event was answered ${answer.statusCode}: ${answer.body}`);
  // Whatever the answer left running (the log line's write, the store's check) settles first.
  await new Promise((settled) => setTimeout(settled, 20));

  const madeBy = Buffer.alloc(16);
  madeBy.write(process.version, 'latin1');
  writeFileSync(join(functionDir, 'function.cache'), Buffer.concat([createHash('sha256').update(bytes).digest(), madeBy, script.createCachedData()]));
  // The keep-alive socket to the stand-in would hold the process open.
  process.exit(0);
}

main().catch((error) => {
  console.error(error && error.stack ? error.stack : String(error));
  process.exit(1);
});
