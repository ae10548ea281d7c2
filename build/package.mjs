// `npm run package`: the deployable zip for SCF, dist/tke-scaleout.zip:
//   index.js               the bundled function (handler: index.main_handler)
//   config/scaleout.yaml   the config named by SCALEOUT_CONFIG now (config/example.yaml by default)
// The config is validated here with the bundle's own cold start, so a bad config never ships.
import { execFileSync } from 'node:child_process';
import { copyFileSync, createWriteStream, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import yazl from 'yazl';
import { bundle } from './bundle.mjs';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
const stage = join(root, 'dist', 'function');
const zipPath = join(root, 'dist', 'tke-scaleout.zip');
const configSource = resolve(process.env.SCALEOUT_CONFIG ?? join(root, 'config', 'example.yaml'));

// A failed packaging leaves no zip behind, so an old one is never mistaken for this config's.
rmSync(zipPath, { force: true });
rmSync(stage, { recursive: true, force: true });
mkdirSync(join(stage, 'config'), { recursive: true });
await bundle({ entry: join(root, 'src', 'index.ts'), outfile: join(stage, 'index.js') });
copyFileSync(configSource, join(stage, 'config', 'scaleout.yaml'));

// Validate: load the bundle as SCF would (code root = the staged folder), with placeholder
// credentials; a config error fails the cold start with the key's path.
try {
  execFileSync(process.execPath, ['-e', "require('./index.js')"], {
    cwd: stage,
    env: { PATH: process.env.PATH, USER_CODE_ROOT: stage, TENCENTCLOUD_SECRETID: 'validate', TENCENTCLOUD_SECRETKEY: 'validate', LOG_LEVEL: 'silent' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
} catch (error) {
  console.error(`config ${configSource} does not load:\n${error.stderr?.toString() ?? error}`);
  process.exit(1);
}

const zip = new yazl.ZipFile();
const fixedTime = new Date('2026-01-01T00:00:00Z'); // the same input makes the same zip
zip.addBuffer(readFileSync(join(stage, 'index.js')), 'index.js', { mtime: fixedTime, mode: 0o100644 });
zip.addBuffer(readFileSync(join(stage, 'config', 'scaleout.yaml')), 'config/scaleout.yaml', { mtime: fixedTime, mode: 0o100644 });
zip.end();
await new Promise((resolveDone, reject) => zip.outputStream.pipe(createWriteStream(zipPath)).on('close', resolveDone).on('error', reject));
console.error(`packaged ${zipPath}: ${(statSync(zipPath).size / 1024).toFixed(0)} KB (config from ${configSource})`);
