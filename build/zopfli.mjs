// Deflate with Zopfli, for the entries of the zip (build/zip.mjs): the same deflate format every
// unzip reads, ~4% smaller than zlib's best level, which on the code cache and the bundle is ~17 KB
// of the zip. Zopfli's WebAssembly build (npm package @gfx/zopfli, with base64-js, which it
// requires) is fetched with `npm pack` from the registry npm already uses, as build/node18.mjs
// fetches Node 18.15: a packaging tool, never a dependency of the function, kept in
// node_modules/.cache (which `npm ci` clears with the rest). Each tarball is checked against its
// pinned sha512. Without the registry, packaging says so and deflates with zlib instead.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGES = [
  { name: '@gfx/zopfli', version: '1.0.15', integrity: 'sha512-7mBgpi7UD82fsff5ThQKet0uBTl4BYerQuc+/qA1ELTwWEiIedRTcD3JgiUu9wwZ2kytW8JOb165rSdAt8PfcQ==' },
  { name: 'base64-js', version: '1.5.1', integrity: 'sha512-AKpaYlHn8t4SVbOHCy+b5+KKgvR4vrsD8vbvrbiQJps7fKDTkjkDry6ji0rUJjC0kzbNePLwzxq8iypo41qeWA==' },
];
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cacheDir = join(root, 'node_modules', '.cache', 'zopfli-1.0.15');
/** One iteration: the further ones (Zopfli's default is 15) take seconds for under 0.2 % more. */
const ITERATIONS = 1;

function ensureFetched() {
  const modules = join(cacheDir, 'node_modules');
  if (PACKAGES.every((p) => existsSync(join(modules, p.name, 'package.json')))) return;
  // Beside the cache (one file system, so that the rename below is one step).
  mkdirSync(dirname(cacheDir), { recursive: true });
  const work = mkdtempSync(`${cacheDir}.fetching-`);
  try {
    for (const p of PACKAGES) {
      const tarball = join(work, execFileSync('npm', ['pack', `${p.name}@${p.version}`, '--silent', '--pack-destination', work], { encoding: 'utf8' }).trim().split('\n').pop());
      const integrity = `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`;
      if (integrity !== p.integrity) throw new Error(`${p.name}@${p.version}: the registry's tarball is ${integrity}, pinned ${p.integrity}`);
      const into = join(work, 'node_modules', p.name);
      mkdirSync(into, { recursive: true });
      execFileSync('tar', ['-xzf', tarball, '-C', into, '--strip-components=1']);
    }
    mkdirSync(cacheDir, { recursive: true });
    // In one step, so that a packaging running beside this one sees both packages or neither; if
    // that other one got there first, its copy is the same.
    try {
      renameSync(join(work, 'node_modules'), modules);
    } catch (error) {
      if (!existsSync(join(modules, PACKAGES[0].name, 'package.json'))) throw error;
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * `{ deflate }`, a raw deflate (Buffer -> Promise<Buffer>) by Zopfli, or `{ reason }` it cannot be
 * had (no registry).
 */
export function zopfliDeflate() {
  let zopfli;
  try {
    ensureFetched();
    zopfli = createRequire(join(cacheDir, 'fetched.js'))('@gfx/zopfli');
  } catch (error) {
    return { reason: error.message.split('\n')[0] };
  }
  return {
    deflate: (data) =>
      new Promise((resolveDeflated, reject) =>
        zopfli.deflate(data, { numiterations: ITERATIONS }, (error, deflated) => (error ? reject(error) : resolveDeflated(Buffer.from(deflated)))),
      ),
  };
}
