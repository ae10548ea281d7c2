// `npm run package [-- --out <dir>] [-- --no-code-cache]`: the deployable zip for SCF, dist/tke-scaleout.zip:
//   index.js               the handler (index.main_handler): build/function-loader.cjs, which loads
//                          function.js with its code cache
//   function.js            the bundled function
//   function.cache         V8's code cache of function.js, taken under Node 18.15 after the function
//                          answered one event (build/make-code-cache.cjs says which and why), with
//                          the digest of function.js; without the exact Node 18.15 at packaging it is
//                          left out, and the function compiles as usual
//   ioredis.js             the Redis client, loaded only when SCALEOUT_STORE names a Redis
//                          (build/bundle.mjs says why it is a file of its own)
//   notify.js              the notices in words and the platforms' sinks, loaded on the first
//                          notice (the same)
//   config/scaleout.json   the config named by SCALEOUT_CONFIG now (config/example.yaml by default),
//                          compiled from YAML to JSON: parsing the YAML would cost every cold start
//                          ~25 ms on SCF's Node 18.
//   config/scaleout.validated.json   its validated form, made by the bundle's own schema, with the
//                          digest of scaleout.json: a cold start that finds them matching skips the
//                          schema (src/config/load-config.ts); an edited scaleout.json is validated.
// The YAML is validated first by the bundle's own cold start, so a bad config never ships and its
// errors name the key (and the YAML line) as they would at run time. The unzipped function stays
// in dist/function/ for inspection (and for `npm run deploy`, which reads the config's env var names).
// The entries are deflated by Zopfli (build/zip.mjs; by zlib if it cannot be fetched, which says so):
// the same input makes the same zip, code cache included.
//
// Built in a staging folder and moved into place at the end, so that a reader of dist/ (a test, a
// deploy) running beside another packaging never sees half a function.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { dirname, join, resolve } from 'node:path';
import { parse } from 'yaml';
import { buildFunction, NOTIFY_FILE, REDIS_CLIENT_FILE } from './bundle.mjs';
import { ensureNode18 } from './node18.mjs';
import { writeZip } from './zip.mjs';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
const args = parseArgs({ options: { out: { type: 'string' }, 'no-code-cache': { type: 'boolean' } } }).values;
const out = resolve(args.out ?? join(root, 'dist'));
const zipPath = join(out, 'tke-scaleout.zip');
const configSource = resolve(process.env.SCALEOUT_CONFIG ?? join(root, 'config', 'example.yaml'));

// A failed packaging leaves no zip behind, so an old one is never mistaken for this config's.
rmSync(zipPath, { force: true });
mkdirSync(out, { recursive: true });
const work = mkdtempSync(join(out, '.package-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
const stage = join(work, 'function');
mkdirSync(stage, { recursive: true });
// The function reads the JSON compiled below, so the YAML library stays out of the bundle (for the
// validation below it resolves from the checkout's node_modules, so the bundle checks the YAML itself).
await buildFunction(join(stage, 'function.js'));
copyFileSync(join(root, 'build', 'function-loader.cjs'), join(stage, 'index.js'));

// Load the bundle as SCF would (code root = the staged folder, placeholder credentials): first with
// the YAML itself, then with the compiled JSON it will find in the zip. A config error fails the
// cold start with the key's path.
const validate = (configPath) => {
  try {
    // The function builds itself on its first invocation (src/index.ts); build it now.
    execFileSync(process.execPath, ['-e', "require('./index.js').coldStartNow()"], {
      cwd: stage,
      // NODE_PATH: the checkout's node_modules, where the bundle finds the YAML library it leaves out.
      env: { PATH: process.env.PATH, NODE_PATH: join(root, 'node_modules'), USER_CODE_ROOT: stage, SCALEOUT_CONFIG: configPath, TENCENTCLOUD_SECRETID: 'validate', TENCENTCLOUD_SECRETKEY: 'validate' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (error) {
    // The cold start's fatal log line (stdout) names every problem; the stack (stderr) adds nothing.
    const fatal = error.stdout?.toString().split('\n').find((line) => line.includes('"fatal"'));
    console.error(`config ${configSource} does not load:\n${fatal ?? error.stderr?.toString() ?? error}`);
    process.exit(1);
  }
};
validate(configSource);
/** config/scaleout.json (the YAML as JSON) and config/scaleout.validated.json (its validated form) under `codeRoot`. */
const compileConfig = (yamlPath, codeRoot, change = (doc) => doc) => {
  const compiled = join(codeRoot, 'config', 'scaleout.json');
  mkdirSync(dirname(compiled), { recursive: true });
  writeFileSync(compiled, `${JSON.stringify(change(parse(readFileSync(yamlPath, 'utf8'))), null, 1)}\n`);
  writeFileSync(
    join(codeRoot, 'config', 'scaleout.validated.json'),
    execFileSync(process.execPath, ['-e', `process.stdout.write(require('./index.js').validatedConfigOf(${JSON.stringify(compiled)}))`], { cwd: stage, env: { PATH: process.env.PATH } }),
  );
  return compiled;
};
validate(compileConfig(configSource, stage));

// The code cache is only worth shipping if SCF's V8 can take it: made by the exact Node 18.15. Its
// warm-up event is the example config's, whatever config ships (make-code-cache.cjs says why).
let codeCache = 'no code cache';
if (!args['no-code-cache']) {
  try {
    const warmUp = join(work, 'warm-up');
    // Without its notify: section: notices run on a purchase's news, not on every event, and a
    // deployment without sinks should not ship their compiled code (~90 KB of cache); one with
    // sinks compiles them on its first notice, as for a sender the warm-up did not run.
    compileConfig(join(root, 'config', 'example.yaml'), warmUp, ({ notify: _notices, ...doc }) => doc);
    // --random-seed: V8's cache otherwise differs from run to run; a fixed seed makes the same
    // function.js give the same cache (the seed is not among the flags V8 checks when it loads one).
    execFileSync(ensureNode18(), ['--random-seed=1', join(root, 'build', 'make-code-cache.cjs'), stage, warmUp], { env: { PATH: process.env.PATH }, stdio: ['ignore', 'ignore', 'pipe'] });
    codeCache = `code cache ${(statSync(join(stage, 'function.cache')).size / 1024).toFixed(0)} KB`;
  } catch (error) {
    console.error(`packaging without a code cache (the function compiles as usual at cold start): ${error.stderr?.toString() || error.message}`);
  }
}

const entries = ['index.js', 'function.js', 'function.cache', REDIS_CLIENT_FILE, NOTIFY_FILE, 'config/scaleout.json', 'config/scaleout.validated.json'];
const deflatedWith = await writeZip(
  join(work, 'function.zip'),
  entries.filter((name) => existsSync(join(stage, name))).map((name) => ({ name, data: readFileSync(join(stage, name)) })),
  new Date('2026-01-01T00:00:00Z'), // the same input makes the same zip
);
rmSync(join(out, 'function'), { recursive: true, force: true });
renameSync(stage, join(out, 'function'));
renameSync(join(work, 'function.zip'), zipPath);
console.error(`packaged ${zipPath}: ${(statSync(zipPath).size / 1024).toFixed(0)} KB, ${codeCache}, deflated with ${deflatedWith} (config from ${configSource})`);
