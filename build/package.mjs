// `npm run package`: the deployable zip for SCF, dist/tke-scaleout.zip:
//   index.js               the bundled function (handler: index.main_handler)
//   config/scaleout.json   the config named by SCALEOUT_CONFIG now (config/example.yaml by default),
//                          compiled from YAML to JSON: parsing the YAML would cost every cold start
//                          ~25 ms on SCF's Node 18; the function still validates it at cold start.
// The YAML is validated first by the bundle's own cold start, so a bad config never ships and its
// errors name the key (and the YAML line) as they would at run time.
import { execFileSync } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parse } from 'yaml';
import yazl from 'yazl';
import { buildFunction } from './bundle.mjs';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
const stage = join(root, 'dist', 'function');
const zipPath = join(root, 'dist', 'tke-scaleout.zip');
const configSource = resolve(process.env.SCALEOUT_CONFIG ?? join(root, 'config', 'example.yaml'));

// A failed packaging leaves no zip behind, so an old one is never mistaken for this config's.
rmSync(zipPath, { force: true });
rmSync(stage, { recursive: true, force: true });
mkdirSync(join(stage, 'config'), { recursive: true });
// The function reads the JSON compiled below, so the YAML library stays out of the bundle (here in
// the checkout it still resolves from node_modules, which lets the bundle validate the YAML itself).
await buildFunction(join(stage, 'index.js'));
const compiledConfig = join(stage, 'config', 'scaleout.json');

// Load the bundle as SCF would (code root = the staged folder, placeholder credentials): first with
// the YAML itself, then with the compiled JSON it will find in the zip. A config error fails the
// cold start with the key's path.
const validate = (configPath) => {
  try {
    execFileSync(process.execPath, ['-e', "require('./index.js')"], {
      cwd: stage,
      env: { PATH: process.env.PATH, USER_CODE_ROOT: stage, SCALEOUT_CONFIG: configPath, TENCENTCLOUD_SECRETID: 'validate', TENCENTCLOUD_SECRETKEY: 'validate' },
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
writeFileSync(compiledConfig, `${JSON.stringify(parse(readFileSync(configSource, 'utf8')), null, 1)}\n`);
validate(compiledConfig);

const zip = new yazl.ZipFile();
const fixedTime = new Date('2026-01-01T00:00:00Z'); // the same input makes the same zip
zip.addBuffer(readFileSync(join(stage, 'index.js')), 'index.js', { mtime: fixedTime, mode: 0o100644 });
zip.addBuffer(readFileSync(compiledConfig), 'config/scaleout.json', { mtime: fixedTime, mode: 0o100644 });
zip.end();
await new Promise((resolveDone, reject) => zip.outputStream.pipe(createWriteStream(zipPath)).on('close', resolveDone).on('error', reject));
console.error(`packaged ${zipPath}: ${(statSync(zipPath).size / 1024).toFixed(0)} KB (config from ${configSource})`);
