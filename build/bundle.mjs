// Bundles an entry for SCF's Node 18.15 with esbuild. Used by `npm run build` (the function),
// `npm start` (the local server) and the benchmark.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const shim = (name) => fileURLToPath(new URL(`./shims/${name}.js`, import.meta.url));

export async function bundle({ entry, outfile, minify = true, sourcemap = false }) {
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
    alias: { 'whatwg-url': shim('whatwg-url'), 'mime-types': shim('mime-types') },
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning',
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [entry = 'src/index.ts', outfile = 'dist/function/index.js', ...flags] = process.argv.slice(2);
  const result = await bundle({ entry, outfile, minify: !flags.includes('--no-minify'), sourcemap: flags.includes('--sourcemap') });
  const bytes = Object.values(result.metafile.outputs).find((o) => o.entryPoint !== undefined)?.bytes ?? 0;
  console.error(`built ${outfile}: ${(bytes / 1024).toFixed(0)} KB`);
}
