// Compares the cold start of packaged zips, interleaved, against the SDK alone (bench/build.mjs's
// sdk-cold-shimmed.js), the way `npm run bench` measures it: a fresh Node 18.15 process that loads
// the zip's function and answers one generic event against the sandbox. For choosing between
// variants of the build on a shared machine, where only ratios measured side by side mean anything.
//
//   node bench/build.mjs && node bench/cold-compare.mjs [--runs 31] <label>=<zip> ...
//
// Prints, per zip: its size, the median cold start, the ratio to the SDK alone measured in the same
// rounds, the same for the CPU time the process used (perf stat's task-clock, when perf runs here:
// less moved than the wall clock by whatever else the machine runs), and the medians of
// loading the bundle and of the first event (build/invoke-bundle.cjs).
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureNode18 } from '../build/node18.mjs';

const ROOT = resolve(new URL('..', import.meta.url).pathname);
const { values, positionals } = parseArgs({ options: { runs: { type: 'string', default: '31' } }, allowPositionals: true });
const runs = Number(values.runs);
const variants = positionals.map((arg) => {
  const [label, zip] = arg.includes('=') ? arg.split('=') : [arg, arg];
  const codeRoot = mkdtempSync(join(tmpdir(), 'cold-compare-'));
  execFileSync('unzip', ['-q', resolve(zip), '-d', codeRoot]);
  return { label, zip: resolve(zip), codeRoot, times: [], cpu: [], load: [], first: [] };
});
const n18 = ensureNode18();

const sandbox = spawn(process.execPath, [join(ROOT, 'dist', 'bench', 'sandbox-process.js')], { stdio: ['ignore', 'pipe', 'inherit'] });
const url = await new Promise((ok) => sandbox.stdout.once('data', (chunk) => ok(chunk.toString().trim())));
// bench/sdk-baseline.ts's SANDBOX_KEY: the sandbox checks the signature.
const env = {
  PATH: process.env.PATH,
  TENCENTCLOUD_SECRETID: 'AKIDsandboxLOCALONLY0000000000000000',
  TENCENTCLOUD_SECRETKEY: 'sandbox-secret-key-local-only-000000',
  TKE_ENDPOINT: url,
  SCALEOUT_GENERIC_TOKEN: 'bench-token',
  LOG_LEVEL: 'silent',
};

const cpuFile = join(mkdtempSync(join(tmpdir(), 'cold-compare-')), 'cpu');
const perf = (() => {
  try {
    execFileSync('perf', ['stat', '-x,', '-e', 'task-clock', '-o', cpuFile, 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
/** [wall ms, CPU ms or NaN] of one fresh process. */
function timed(args) {
  return new Promise((ok, fail) => {
    const [command, commandArgs] = perf ? ['perf', ['stat', '-x,', '-e', 'task-clock', '-o', cpuFile, n18, ...args]] : [n18, args];
    const startedAt = performance.now();
    const child = spawn(command, commandArgs, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.once('exit', (code) => {
      const wall = performance.now() - startedAt;
      if (code !== 0) return fail(new Error(`${args.join(' ')}: ${code}\n${stderr}`));
      const cpu = perf ? Number(readFileSync(cpuFile, 'utf8').split('\n').find((line) => line.includes('task-clock'))?.split(',')[0]) : NaN;
      ok([wall, cpu]);
    });
  });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const sdk = [];
const sdkCpu = [];
let counter = 0;
for (let round = 0; round < runs + 1; round++) {
  const order = [...variants].sort(() => Math.random() - 0.5); // no variant always runs right after the SDK
  const [sdkMs, sdkCpuMs] = await timed([join(ROOT, 'dist', 'bench', 'sdk-cold-shimmed.js'), url]);
  if (round > 0) sdk.push(sdkMs), sdkCpu.push(sdkCpuMs);
  for (const v of order) {
    const events = join(v.codeRoot, 'events.json');
    const event = {
      httpMethod: 'POST',
      path: '/hooks/generic',
      headers: { 'content-type': 'application/json', authorization: 'Bearer bench-token' },
      queryString: {},
      body: JSON.stringify({ eventId: `cold-${process.pid}-${counter++}`, cluster: 'demo-bj', template: 'multi-disk' }),
    };
    writeFileSync(events, JSON.stringify([event]));
    const [elapsed, cpu] = await timed([join(ROOT, 'build', 'invoke-bundle.cjs'), v.codeRoot, events, join(v.codeRoot, 'answers.json')]);
    const answers = JSON.parse(readFileSync(join(v.codeRoot, 'answers.json'), 'utf8'));
    if (answers.answers[0]?.response.statusCode !== 200) throw new Error(`${v.label} answered ${JSON.stringify(answers.answers[0])}`);
    if (answers.codeCache !== 'accepted' && round === 0) console.error(`${v.label}: code cache ${answers.codeCache}`);
    if (round === 0) continue; // the first round warms the OS's file cache
    v.times.push(elapsed);
    v.cpu.push(cpu);
    v.load.push(answers.loadMs);
    v.first.push(answers.answers[0].ms);
  }
}
sandbox.kill('SIGTERM');
const sdkMedian = median(sdk);
const sdkCpuMedian = median(sdkCpu);
console.log(`SDK alone: ${sdkMedian.toFixed(1)} ms, CPU ${sdkCpuMedian.toFixed(1)} ms (medians of ${runs})`);
for (const v of variants) {
  console.log(
    `${v.label.padEnd(24)} ${String(statSync(v.zip).size).padStart(7)} B  ${median(v.times).toFixed(1)} ms  ratio ${(median(v.times) / sdkMedian).toFixed(3)}  CPU ${median(v.cpu).toFixed(1)} ms ratio ${(median(v.cpu) / sdkCpuMedian).toFixed(3)}  load ${median(v.load).toFixed(2)} ms  first event ${median(v.first).toFixed(2)} ms`,
  );
}
