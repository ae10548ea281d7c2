// Runs a built function the way SCF does: `require(<code root>/index.js).main_handler(event, context)`
// in a fresh process, once per event, in order. Plain CommonJS with no dependencies, so that it runs
// under the exact Node 18.15 binary as well as under the Node that builds.
//
//   node build/invoke-bundle.cjs <code root> <events.json> <answers.json>
//
// events.json holds an array of SCF events; answers.json receives the integration responses, each
// with the milliseconds it took, how long loading the bundle (its cold start) took, and whether V8
// took the packaged code cache (build/function-loader.cjs). The
// function's own log lines go to stdout, as on SCF. The code root is also USER_CODE_ROOT, so the
// packaged config (config/scaleout.json) is the one loaded unless SCALEOUT_CONFIG says otherwise.
'use strict';
const { readFileSync, writeFileSync } = require('node:fs');
const { resolve } = require('node:path');

async function main() {
  const [codeRoot, eventsPath, answersPath] = process.argv.slice(2);
  if (!codeRoot || !eventsPath || !answersPath) throw new Error('usage: invoke-bundle.cjs <code root> <events.json> <answers.json>');
  process.env.USER_CODE_ROOT = resolve(codeRoot);
  const events = JSON.parse(readFileSync(eventsPath, 'utf8'));
  const loadStartedAt = performance.now();
  const { main_handler, codeCache } = require(resolve(codeRoot, 'index.js'));
  const loadMs = performance.now() - loadStartedAt;
  const answers = [];
  for (const event of events) {
    const startedAt = performance.now();
    // SCF's context: the invocation's ID and the function's time limit (30 s here).
    const context = { request_id: `local-${answers.length}`, time_limit_in_ms: 30000 };
    const response = await main_handler(event, context);
    answers.push({ ms: performance.now() - startedAt, response });
  }
  writeFileSync(answersPath, JSON.stringify({ node: process.version, loadMs, codeCache, answers }));
  // A warm SCF instance keeps its sockets; a one-shot run must not wait for keep-alive to time out.
  process.exit(0);
}

main().catch((error) => {
  console.error(error && error.stack ? error.stack : String(error));
  process.exit(1);
});
