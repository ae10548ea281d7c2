// Builds what `npm run bench` runs into dist/bench/ (the function's zip is `npm run package`'s).
import { build } from 'esbuild';
import { bundle } from '../build/bundle.mjs';

const out = (name) => new URL(`../dist/bench/${name}.js`, import.meta.url).pathname;
const src = (name) => new URL(`./${name}.ts`, import.meta.url).pathname;

await bundle({ entry: src('bench'), outfile: out('bench'), minify: false, external: ['esbuild'] });
await bundle({ entry: src('sandbox-process'), outfile: out('sandbox-process'), minify: false });
// The runner loads the baseline SDK from node_modules, as a user of the SDK would.
await bundle({ entry: src('runner'), outfile: out('runner'), minify: false, external: ['tencentcloud-sdk-nodejs-tke'] });
// The cold-start baseline: the SDK's client bundled plainly (what a user's bundler makes of it)...
await build({ entryPoints: [src('sdk-cold')], outfile: out('sdk-cold-plain'), bundle: true, platform: 'node', target: 'node18.15', format: 'cjs', minify: true, legalComments: 'none', logLevel: 'warning' });
// ...and with the function's bundling (shims, ES module builds), to show what those alone change.
await bundle({ entry: src('sdk-cold'), outfile: out('sdk-cold-shimmed') });
