// Bundles for SCF's Node 18.15 with esbuild.
//   node build/bundle.mjs                       the function: dist/function/index.js (`npm run build`)
//   node build/bundle.mjs <entry> <outfile> [--no-minify] [--sourcemap]
//                                               anything else (`npm start` bundles dev/local/start.ts)
// `npm run package` and the benchmark build the function through `buildFunction`.
import { build } from 'esbuild';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const shim = (name) => fileURLToPath(new URL(`./shims/${name}.js`, import.meta.url));
export const FUNCTION_ENTRY = fileURLToPath(new URL('../src/index.ts', import.meta.url));
export const FUNCTION_OUTFILE = fileURLToPath(new URL('../dist/function/index.js', import.meta.url));

export async function bundle({ entry, outfile, minify = true, sourcemap = false, external = [], plugins = [] }) {
  return build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node18.15',
    format: 'cjs',
    minify,
    sourcemap,
    // Prefer packages' ES module builds: they tree-shake (zod, yaml) where the CommonJS ones do not.
    mainFields: ['module', 'main'],
    // Modules the SDK imports for code paths this function never takes (build/shims/ says why, each).
    alias: { 'whatwg-url': shim('whatwg-url'), 'form-data': shim('form-data'), 'https-proxy-agent': shim('https-proxy-agent'), 'thread-stream': shim('thread-stream'), 'sonic-boom': shim('sonic-boom') },
    external,
    plugins,
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning',
  });
}

/**
 * The deployed function. It reads the JSON config that `npm run package` compiles, so the YAML
 * library is left out (src/config/config-text.ts says so if a YAML path is configured anyway).
 */
export async function buildFunction(outfile = FUNCTION_OUTFILE, { sourcemap = false } = {}) {
  // `sourcemap`: for finding which module a part of the bundle (or of its code cache) comes from.
  const main = await bundle({ entry: FUNCTION_ENTRY, outfile, sourcemap, external: ['yaml'], plugins: [redisClientBeside, notifyBeside, builtinsStubbed, sdkClientsTrimmed, sdkClientImportsNarrowed] });
  // ioredis is CommonJS: bundled as the entry, its module.exports are the file's.
  await bundle({ entry: createRequire(import.meta.url).resolve('ioredis'), outfile: join(dirname(outfile), REDIS_CLIENT_FILE), plugins: [redisClientTrimmed] });
  await bundle({ entry: NOTIFY_ENTRY, outfile: join(dirname(outfile), NOTIFY_FILE) });
  return main;
}

/**
 * The Redis client (ioredis and its dependencies, ~150 KB of a ~500 KB bundle) ships as a file of
 * its own beside index.js, required only when SCALEOUT_STORE names a Redis (src/cold-start.ts): V8
 * parses every byte of a script it loads, so an instance on the memory store no longer pays for
 * compiling a client it never uses, and one on Redis pays what it paid before. ioredis shares no
 * state with our modules, so two files cannot split one module's identity.
 */
export const REDIS_CLIENT_FILE = 'ioredis.js';
const redisClientBeside = {
  name: 'redis-client-beside',
  setup(builder) {
    builder.onResolve({ filter: /^ioredis$/ }, () => ({ path: `./${REDIS_CLIENT_FILE}`, external: true }));
  },
};

/**
 * What telling the team needs only when there is something to tell (src/notify/on-demand.ts: the
 * notifier, the outbox's posting, the notice in words with its English and Chinese, and the
 * platforms' sinks; ~30 KB minified, and their share of the code cache, which grows with every
 * byte V8 parses) ships as a file of its own beside index.js, required on the first notice or the
 * first sink the config names. What it shares with the function (the outbox's steps, message.ts)
 * is copied, holding no state, and it reads errors by shape, not class: two files split no
 * module's identity.
 */
export const NOTIFY_FILE = 'notify.js';
const NOTIFY_ENTRY = fileURLToPath(new URL('../src/notify/on-demand.ts', import.meta.url));
const notifyBeside = {
  name: 'notify-beside',
  setup(builder) {
    builder.onResolve({ filter: /[\\/]on-demand$/ }, (args) => (/[\\/]src[\\/]/.test(args.importer) ? { path: `./${NOTIFY_FILE}`, external: true } : undefined));
  },
};

/**
 * The SDK's generated clients (tke_client.js, cvm_client.js, scf_client.js) are one class each with a
 * method per API action (TKE: 272), every one the same line: `return this.request("Action", req, cb)`.
 * The function calls `request` itself, with the action's name (src/tke/sdk-tke-api.ts,
 * src/tencentcloud/cvm-pricing.ts), and one generated method (`Invoke`, src/tencentcloud/scf-invoke.ts).
 * The methods no file of src/ names are left out of the bundle: they cost the zip ~17 KB (their
 * source, and their entries in the code cache, which holds every function of a class it ran) and
 * nothing else changes; the class, its constructor (service, version) and AbstractClient are the
 * SDK's own. A method is kept if its name appears in src/ at all, so a new call by name keeps it;
 * if the SDK ever generates its methods differently, nothing matches and nothing is left out.
 */
const GENERATED_METHOD = /\n {4}\/\*\*(?:(?!\*\/)[\s\S])*\*\/\n {4}async (\w+)\(req, cb\) \{\n {8}return this\.request\("\1", req, cb\);\n {4}\}/g;
const SRC = fileURLToPath(new URL('../src', import.meta.url));
const sdkClientsTrimmed = {
  name: 'sdk-clients-trimmed',
  setup(builder) {
    let namedInSrc;
    builder.onStart(() => {
      namedInSrc = new Set();
      const read = (dir) => {
        for (const entry of readdirSync(dir, { withFileTypes: true })) {
          if (entry.isDirectory()) read(join(dir, entry.name));
          else if (entry.name.endsWith('.ts')) for (const word of readFileSync(join(dir, entry.name), 'utf8').match(/\b[A-Z]\w*\b/g) ?? []) namedInSrc.add(word);
        }
      };
      read(SRC);
    });
    builder.onLoad({ filter: /[\\/]node_modules[\\/]tencentcloud-sdk-nodejs-\w+[\\/]tencentcloud[\\/]services[\\/]\w+[\\/]v\d+[\\/]\w+_client\.js$/ }, (args) => ({
      contents: readFileSync(args.path, 'utf8').replace(GENERATED_METHOD, (method, name) => (namedInSrc.has(name) ? method : '')),
      loader: 'js',
    }));
  },
};

/**
 * What the SDK's generated clients (tke_client.js, cvm_client.js, scf_client.js, CommonJS) take from
 * the two packages they require: tslib's `__importStar`, and the common package's `AbstractClient`,
 * their base class. A require of an ES module takes all of it, so the bundle carried every tslib
 * helper, and the common package's whole index: its credential providers (profile file, CVM role,
 * OIDC; with the `ini` parser) and CommonClient, which the function never uses (it passes its keys,
 * src/tke/sdk-tke-api.ts); and the code cache carried their set-up. Each client instead requires a
 * module that re-exports the one name from the same package, resolved from the client's folder (so
 * the same copy), and only that is bundled. A client that used another name would fail at cold start,
 * which every test of the bundle runs.
 */
const SDK_CLIENT = /[\\/]node_modules[\\/]tencentcloud-sdk-nodejs-\w+[\\/]tencentcloud[\\/]services[\\/]\w+[\\/]v\d+[\\/]\w+_client\.js$/;
const SDK_CLIENT_IMPORTS = {
  tslib: "export { __importStar } from 'tslib';",
  'tencentcloud-sdk-nodejs-common': "export { AbstractClient } from 'tencentcloud-sdk-nodejs-common/es/common/abstract_client.js';",
};
const sdkClientImportsNarrowed = {
  name: 'sdk-client-imports-narrowed',
  setup(builder) {
    builder.onResolve({ filter: /^(tslib|tencentcloud-sdk-nodejs-common)$/ }, (args) =>
      SDK_CLIENT.test(args.importer) ? { path: args.path, namespace: 'sdk-client-import', pluginData: { resolveDir: args.resolveDir } } : undefined,
    );
    builder.onLoad({ filter: /.*/, namespace: 'sdk-client-import' }, (args) => ({ contents: SDK_CLIENT_IMPORTS[args.path], resolveDir: args.pluginData.resolveDir, loader: 'js' }));
  },
};

/**
 * Modules that a library of the function requires for something it never does, each replaced for
 * that library only (build/shims/ says why, each): a Node built-in is not in the bundle, but loading
 * it is part of every cold start; a package (bignumber.js) is in the bundle, its code cache and its
 * cold start.
 */
const BUILTIN_STUBS = [
  [/^worker_threads$/, /[\\/]node_modules[\\/]pino[\\/]lib[\\/]tools\.js$/, 'pino-worker-threads'],
  [/^bignumber\.js$/, /[\\/]node_modules[\\/]json-bigint[\\/]lib[\\/](stringify|parse)\.js$/, 'json-bigint-bignumber'],
  [/^\.\/lib\/parse\.js$/, /[\\/]node_modules[\\/]json-bigint[\\/]index\.js$/, 'json-bigint-parse'],
  [/^\.\/(lib\/)?transport$/, /[\\/]node_modules[\\/]pino[\\/](pino|lib[\\/]tools)\.js$/, 'pino-transport'],
  [/^\.\/lib\/multistream$/, /[\\/]node_modules[\\/]pino[\\/]pino\.js$/, 'pino-multistream'],
];
const builtinsStubbed = {
  name: 'builtins-stubbed',
  setup(builder) {
    for (const [filter, importer, name] of BUILTIN_STUBS) {
      builder.onResolve({ filter }, (args) => (importer.test(args.importer) ? { path: shim(name) } : undefined));
    }
  },
};

/**
 * Parts of ioredis the function never reaches, replaced by stubs (build/shims/ says why, each): its
 * Redis Cluster client, its TLS profiles and its `debug` logging. They are required by relative
 * paths inside ioredis, which esbuild's `alias` does not match, hence a resolver.
 */
const IOREDIS_STUBS = [
  [/^\.\/cluster$/, 'ioredis-cluster'],
  [/^\.\.\/constants\/TLSProfiles$/, 'ioredis-tls-profiles'],
  [/^debug$/, 'debug'],
];
const redisClientTrimmed = {
  name: 'redis-client-trimmed',
  setup(builder) {
    for (const [filter, name] of IOREDIS_STUBS) {
      builder.onResolve({ filter }, (args) => (/[\\/]node_modules[\\/]ioredis[\\/]/.test(args.importer) ? { path: shim(name) } : undefined));
    }
  },
};

export function outputBytes(result) {
  return Object.values(result.metafile.outputs).find((o) => o.entryPoint !== undefined)?.bytes ?? 0;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [entry, outfile, ...flags] = process.argv.slice(2);
  const result =
    entry === undefined
      ? await buildFunction()
      : await bundle({ entry, outfile, minify: !flags.includes('--no-minify'), sourcemap: flags.includes('--sourcemap') });
  console.error(`built ${outfile ?? FUNCTION_OUTFILE}: ${(outputBytes(result) / 1024).toFixed(0)} KB`);
}
