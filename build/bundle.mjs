// Bundles for SCF's Node 18.15 with esbuild.
//   node build/bundle.mjs                       the function: dist/function/index.js (`npm run build`)
//   node build/bundle.mjs <entry> <outfile> [--no-minify] [--sourcemap]
//                                               anything else (`npm start` bundles dev/local/start.ts)
// `npm run package` and the benchmark build the function through `buildFunction`.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const shim = (name) => fileURLToPath(new URL(`./shims/${name}.js`, import.meta.url));
export const FUNCTION_ENTRY = fileURLToPath(new URL('../src/index.ts', import.meta.url));
export const FUNCTION_OUTFILE = fileURLToPath(new URL('../dist/function/index.js', import.meta.url));

export async function bundle({ entry, outfile, minify = true, sourcemap = false, external = [] }) {
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
    alias: { 'whatwg-url': shim('whatwg-url'), 'form-data': shim('form-data'), 'https-proxy-agent': shim('https-proxy-agent') },
    external,
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning',
  });
}

/**
 * The deployed function. It reads the JSON config that `npm run package` compiles, so the YAML
 * library is left out (src/config/load-config.ts says so if a YAML path is configured anyway).
 */
export function buildFunction(outfile = FUNCTION_OUTFILE) {
  return bundle({ entry: FUNCTION_ENTRY, outfile, external: ['yaml'] });
}

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
