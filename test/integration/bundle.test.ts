import { encryptFeishu } from '../../src/auth/feishu-crypto';
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FunctionUrlEvent } from '../../src/scf/event';
import { SANDBOX_CREDENTIAL, TkeSandbox } from '../../dev/sandbox/tke-sandbox';
import { parse } from 'yaml';
import { EXAMPLE_CONFIG_PATH, REPO_ROOT, exampleConfigVariant } from '../support/fixtures';
import { startRedisServer } from '../support/redis-server';

/**
 * What we upload to SCF: `npm run package` builds dist/tke-scaleout.zip, and the function inside it
 * runs under the exact Node 18.15 binary (SCF's newest Node runtime), loaded as SCF loads it
 * (`index.main_handler`, code root = the unzipped folder), against the sandbox over HTTP.
 */
const ZIP = join(REPO_ROOT, 'dist', 'tke-scaleout.zip');
const TOKEN = 'bundle-test-token';

const runPackage = (env: Record<string, string> = {}, args: string[] = []) =>
  spawnSync('npm', ['run', 'package', '--silent', '--', ...args], { cwd: REPO_ROOT, env: { ...process.env, ...env }, encoding: 'utf8' });

const genericEvent = (body: unknown, token = TOKEN): FunctionUrlEvent => ({
  httpMethod: 'POST',
  path: '/hooks/generic',
  headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'x-scf-remote-addr': '10.0.0.8' },
  queryString: {},
  body: JSON.stringify(body),
});

describe('npm run package with a config that does not load', () => {
  it('fails, naming the key, and ships nothing', () => {
    const bad = exampleConfigVariant((doc) => (doc.templates.small.count.max = 'lots'));
    // Into a folder of its own: other tests read dist/ meanwhile.
    const out = mkdtempSync(join(tmpdir(), 'package-bad-'));
    writeFileSync(join(out, 'tke-scaleout.zip'), 'an older zip');
    const result = runPackage({ SCALEOUT_CONFIG: bad }, ['--out', out]);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('templates.small.count.max');
    expect(existsSync(join(out, 'tke-scaleout.zip'))).toBe(false);
  });
});

describe('the packaged function under Node 18.15', () => {
  const sandbox = new TkeSandbox();
  let codeRoot: string;
  let node18: string;
  let sandboxUrl: string;

  beforeAll(async () => {
    const packaged = runPackage();
    if (packaged.status !== 0) throw new Error(`npm run package failed:\n${packaged.stderr}`);
    node18 = execFileSync(process.execPath, [join(REPO_ROOT, 'build', 'node18.mjs')], { encoding: 'utf8' }).trim();
    codeRoot = mkdtempSync(join(tmpdir(), 'scf-code-'));
    execFileSync('unzip', ['-q', ZIP, '-d', codeRoot]);
    sandboxUrl = await sandbox.start();
  }, 120_000);
  afterAll(() => sandbox.stop());

  /**
   * Runs the events through the unzipped bundle in one fresh Node 18.15 process. Asynchronously:
   * the sandbox answering it lives in this process.
   */
  const invoke = async (events: unknown[], env: Record<string, string> = {}, root = codeRoot, runtime: { binary?: string; args?: string[] } = {}) => {
    const work = mkdtempSync(join(tmpdir(), 'scf-invoke-'));
    writeFileSync(join(work, 'events.json'), JSON.stringify(events));
    const run = await new Promise<{ status: number; stdout: string; stderr: string }>((resolve) => {
      const args = [...(runtime.args ?? []), join(REPO_ROOT, 'build', 'invoke-bundle.cjs'), root, join(work, 'events.json'), join(work, 'answers.json')];
      execFile(runtime.binary ?? node18, args, {
      // Only what SCF would give the function: no inherited config or store settings.
      env: {
        PATH: process.env.PATH ?? '',
        TENCENTCLOUD_SECRETID: SANDBOX_CREDENTIAL.secretId,
        TENCENTCLOUD_SECRETKEY: SANDBOX_CREDENTIAL.secretKey,
        TKE_ENDPOINT: sandboxUrl,
        SCALEOUT_GENERIC_TOKEN: TOKEN,
        SCALEOUT_HEALTH_TOKEN: 'bundle-health',
        ...env,
      },
      }, (error, stdout, stderr) => resolve({ status: error === null ? 0 : Number(error.code ?? 1), stdout, stderr }));
    });
    if (run.status !== 0) throw new Error(`the bundle failed under Node 18.15 (${run.status}):\n${run.stderr}\n${run.stdout}`);
    const { node, codeCache, answers } = JSON.parse(readFileSync(join(work, 'answers.json'), 'utf8')) as {
      node: string;
      codeCache: string;
      answers: Array<{ response: { statusCode: number; isBase64Encoded: boolean; headers: Record<string, string>; body: string } }>;
    };
    return { node, codeCache, stdout: run.stdout, responses: answers.map((a) => ({ ...a.response, json: JSON.parse(a.response.body) })) };
  };
  /** What the function's cold-start log line says about the code cache. */
  const coldStartCodeCache = (stdout: string): unknown =>
    stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>).find((line) => line.msg === 'cold start')?.codeCache;

  it('is a valid zip holding the loader, the function and its code cache, the Redis client and the words and sinks of notices beside it, and the packaged config', () => {
    const test = execFileSync('unzip', ['-t', ZIP], { encoding: 'utf8' });
    expect(test).toContain('No errors detected');
    const listing = execFileSync('unzip', ['-Z1', ZIP], { encoding: 'utf8' }).trim().split('\n');
    expect(listing.sort()).toEqual(['config/scaleout.json', 'config/scaleout.validated.json', 'function.cache', 'function.js', 'index.js', 'ioredis.js', 'notify.js']);
    // The example config, compiled from YAML to JSON (the function parses no YAML at cold start).
    expect(JSON.parse(readFileSync(join(codeRoot, 'config', 'scaleout.json'), 'utf8'))).toEqual(parse(readFileSync(EXAMPLE_CONFIG_PATH, 'utf8')));
  });

  // build/bundle.mjs leaves out the SDK clients' generated methods that src/ never names; the one it
  // calls (SCF's Invoke, for chat follow-ups) stays.
  it("keeps the SDK clients' generated methods the function calls, and only those", () => {
    const bundled = readFileSync(join(codeRoot, 'function.js'), 'utf8');
    expect(bundled).toContain('async Invoke(');
    expect(bundled).not.toContain('async DescribeExternalNode(');
    expect(bundled).not.toContain('async DescribeInstancesStatus(');
    expect(bundled).not.toContain('async ResetInstance(');
  });

  it('climbs the ladder and prices with the CVM client bundled in, under a money budget', async () => {
    sandbox.reset();
    sandbox.setStock({ 'ap-shanghai-2/S5.MEDIUM4': 0 });
    const { responses } = await invoke([genericEvent({ eventId: 'bundle-ladder', cluster: 'demo-sh', template: 'burst' })], { CVM_ENDPOINT: sandboxUrl });
    expect(responses[0]!.json).toMatchObject({ status: 'created', bought: { rung: 2, price: { amount: 0.16, currency: 'CNY' } }, skipped: [{ rung: 1, outcome: 'sold-out' }] });
    // CVM prices only what it could sell: rung 1's offering is refused at its price, and skipped
    // without a CreateClusterInstances.
    expect(sandbox.calls.map((c) => [c.action, c.service, c.errorCode])).toEqual([
      ['InquiryPriceRunInstances', 'cvm', 'ResourcesSoldOut.SpecifiedInstanceType'],
      ['InquiryPriceRunInstances', 'cvm', undefined],
      ['CreateClusterInstances', 'tke', undefined],
    ]);
  });

  it('scales the sandbox once per event, and replays a redelivery', async () => {
    sandbox.reset();
    const event = genericEvent({ eventId: 'bundle-1', cluster: 'demo-bj', template: 'multi-disk', count: 2 });
    const { node, codeCache, responses, stdout } = await invoke([
      { httpMethod: 'GET', path: '/release/healthz', headers: { authorization: 'Bearer bundle-health' }, queryString: {}, body: '' },
      event,
      event,
      genericEvent({ eventId: 'bundle-2', cluster: 'demo', template: 'small' }, 'wrong-token'),
    ]);
    expect(node).toBe('v18.15.0');
    // Node 18.15's V8 takes the cache packaging made with the same binary (build/function-loader.cjs),
    // and the cold-start log line says so.
    expect(codeCache).toBe('accepted');
    expect(coldStartCodeCache(stdout)).toBe('accepted');
    const [health, created, replayed, refused] = responses;

    expect(health).toMatchObject({ statusCode: 200, isBase64Encoded: false });
    expect(health!.json).toMatchObject({ status: 'ok', templates: ['small', 'multi-disk', 'burst'], store: { kind: 'memory' } });

    expect(created!.statusCode).toBe(200);
    expect(created!.json).toMatchObject({ status: 'created', clusterId: 'cls-nfjdk3n0', template: 'multi-disk', count: 2 });
    expect(created!.json.instanceIds).toHaveLength(2);
    expect(replayed!.json).toMatchObject({ status: 'replayed', instanceIds: created!.json.instanceIds, clientToken: created!.json.clientToken });
    expect(refused!.statusCode).toBe(401);

    // One signed call reached TKE (the sandbox checks TC3 signatures), carrying the ClientToken.
    expect(sandbox.createdCalls).toHaveLength(1);
    expect(sandbox.calls).toHaveLength(1);
    expect(JSON.parse(sandbox.calls[0]!.params.RunInstancePara as string)).toMatchObject({ InstanceCount: 2, ClientToken: created!.json.clientToken });

    // One JSON log line per webhook decision on stdout, as SCF's log service collects it; no secret in any.
    const lines = stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
    const decisions = lines.filter((l) => l.msg === 'scale-out decision');
    // The example config's sinks, loaded from notify.js beside the function: their URLs are
    // unset here, so the purchase's notice waits in the outbox, each sink's try naming its variable.
    expect(decisions[0]!.notices).toMatchObject({ queued: [expect.stringMatching(/^bought:cls-nfjdk3n0:/)], pending: expect.arrayContaining([expect.stringContaining('→ team-slack'), expect.stringContaining('→ audit')]) });
    expect(decisions.map((d) => [d.eventId, d.status])).toEqual([
      ['bundle-1', 200],
      ['bundle-1', 200],
      [undefined, 401],
    ]);
    expect(stdout).not.toContain(SANDBOX_CREDENTIAL.secretKey);
    expect(stdout).not.toContain(TOKEN);
  });

  // The Redis client ships as ioredis.js beside index.js (build/bundle.mjs), loaded only for a
  // Redis store: this is the one test of the packaged function on a real Redis.
  it('runs on a real Redis through the client file beside it, and replays a redelivery from Redis', async () => {
    const redis = await startRedisServer();
    try {
      sandbox.reset();
      const event = genericEvent({ eventId: 'bundle-redis-1', cluster: 'demo-bj', template: 'multi-disk' });
      const env = { SCALEOUT_STORE: redis.url };
      const first = await invoke([{ httpMethod: 'GET', path: '/healthz', headers: { authorization: 'Bearer bundle-health' }, queryString: {}, body: '' }, event], env);
      expect(first.responses[0]!.json).toMatchObject({ status: 'ok', store: { kind: 'redis', reachable: true } });
      expect(first.responses[1]!.json).toMatchObject({ status: 'created', clusterId: 'cls-nfjdk3n0' });
      // A second cold process finds the record in Redis: the redelivery is replayed, not re-created.
      const second = await invoke([event], env);
      expect(second.responses[0]!.json).toMatchObject({ status: 'replayed', instanceIds: first.responses[1]!.json.instanceIds });
      expect(sandbox.createdCalls).toHaveLength(1);
    } finally {
      await redis.stop();
    }
  });

  it("finds its packaged config beside itself when loaded without SCF's code root, from anywhere", async () => {
    const script = `require(${JSON.stringify(join(codeRoot, 'index.js'))}).main_handler({ httpMethod: 'GET', path: '/healthz', headers: { authorization: 'Bearer h' }, queryString: {}, body: '' }, {}).then((r) => { console.error(r.body); process.exit(0); })`;
    const body = await new Promise<string>((resolve, reject) =>
      execFile(node18, ['-e', script], { cwd: tmpdir(), env: { PATH: process.env.PATH ?? '', TENCENTCLOUD_SECRETID: 'id', TENCENTCLOUD_SECRETKEY: 'key', SCALEOUT_HEALTH_TOKEN: 'h', LOG_LEVEL: 'silent' } }, (error, _stdout, stderr) =>
        error === null ? resolve(stderr) : reject(new Error(stderr)),
      ),
    );
    expect(JSON.parse(body)).toMatchObject({ status: 'ok', clusters: { demo: { clusterId: 'cls-e55paxnt' } } });
  });

  it('says that it reads JSON when pointed at a YAML config, rather than failing obscurely', async () => {
    // The function builds itself on its first invocation (src/index.ts), so the first event fails.
    await expect(invoke([genericEvent({ eventId: 'yaml-1', cluster: 'demo', template: 'small' })], { SCALEOUT_CONFIG: EXAMPLE_CONFIG_PATH })).rejects.toThrow(/this bundle reads JSON config/);
  });

  // Feishu wants url_verification echoed within 1 s (3 s is for events), and it
  // comes when the URL is saved, i.e. to a cold instance. The packaged function answers it before
  // building itself: here the environment lacks TKE credentials, so building it would fail, and the
  // challenge is echoed all the same; anything else still builds the function (and fails here).
  it('echoes Feishu\'s encrypted url_verification before the function is built', async () => {
    const plain = JSON.stringify({ challenge: 'ajls384kdjx98XX', token: 'fs-token', type: 'url_verification' });
    const challenge = { httpMethod: 'POST', path: '/hooks/feishu', headers: { 'content-type': 'application/json' }, queryString: {}, body: JSON.stringify({ encrypt: encryptFeishu(plain, 'fs-key') }) };
    const noCredentials = { TENCENTCLOUD_SECRETID: '', TENCENTCLOUD_SECRETKEY: '', FEISHU_VERIFICATION_TOKEN: 'fs-token', FEISHU_ENCRYPT_KEY: 'fs-key' };
    const { responses, stdout } = await invoke([challenge], noCredentials);
    expect(responses[0]).toMatchObject({ statusCode: 200, json: { challenge: 'ajls384kdjx98XX' } });
    expect(stdout).toContain('url_verification, answered before the cold start');
    // A wrong token is not echoed: it goes to the full function, which cannot start here.
    const wrong = { ...challenge, body: JSON.stringify({ encrypt: encryptFeishu(plain.replace('fs-token', 'guess'), 'fs-key') }) };
    await expect(invoke([wrong], noCredentials)).rejects.toThrow(/TENCENTCLOUD_SECRETID: must be set/);
  });

  // A cold start trusts the packaged config's validated form (the schema's own output,
  // made at packaging) when its digest matches config/scaleout.json, and skips the schema; a
  // scaleout.json edited after packaging no longer matches and is validated in full.
  it('validates a config/scaleout.json edited after packaging in full, naming the key', async () => {
    const edited = mkdtempSync(join(tmpdir(), 'scf-edited-'));
    execFileSync('unzip', ['-q', ZIP, '-d', edited]);
    const validated = JSON.parse(readFileSync(join(edited, 'config', 'scaleout.validated.json'), 'utf8')) as { format: number; source: string; config: { tke: { maxAttempts: number } } };
    expect(validated).toMatchObject({ format: 1, source: expect.stringMatching(/^[0-9a-f]{64}$/), config: { tke: { maxAttempts: 4 } } });
    const config = JSON.parse(readFileSync(join(edited, 'config', 'scaleout.json'), 'utf8')) as Record<string, any>;
    config.templates.small.count.max = 0;
    writeFileSync(join(edited, 'config', 'scaleout.json'), JSON.stringify(config));
    const script = `try { require(${JSON.stringify(join(edited, 'index.js'))}).coldStartNow(); console.error('started'); } catch (e) { console.error(e.message); }`;
    const stderr = await new Promise<string>((resolve) =>
      execFile(node18, ['-e', script], { cwd: edited, env: { PATH: process.env.PATH ?? '', USER_CODE_ROOT: edited, TENCENTCLOUD_SECRETID: 'id', TENCENTCLOUD_SECRETKEY: 'key', LOG_LEVEL: 'silent' } }, (_error, _stdout, err) => resolve(err)),
    );
    // zod's own words, in English: the function's zod (zod/mini, src/config/zod.ts) has no locale
    // of its own and sets English itself; without it this would read "Invalid input".
    expect(stderr).toContain('templates.small.count.max: Too small: expected number to be >=1');
  });

  // V8 checks a cache against its own version and flags, and the source only by its length; the
  // loader adds the digest of function.js. Whatever is wrong with the cache, the function compiles
  // as it would have without one and behaves the same, and its cold-start log line says why it was
  // slower.
  const V8_FLAGS_NOT_PACKAGED = ['--max-old-space-size=512'];
  it.each([
    ['stale', 'function.js edited after packaging', /^stale: function\.cache was made for another function\.js/, (root: string) => writeFileSync(join(root, 'function.js'), `${readFileSync(join(root, 'function.js'), 'utf8')}\n// edited\n`)],
    ['rejected', "a cache V8 refuses (its header altered, as another V8 version's would differ)", /^rejected by V8: made by this Node \(v18\.15\.0\) started with no flags, as this one, so function\.cache is damaged; function\.js compiled at cold start$/, (root: string) => {
      const packed = readFileSync(join(root, 'function.cache'));
      // After the digest (32 bytes) and the Node version (16): V8's own header.
      for (let i = 48; i < 64; i++) packed[i] = packed[i]! ^ 0xff;
      writeFileSync(join(root, 'function.cache'), packed);
    }],
    ['rejected', 'a cache damaged in its body (V8 checks its checksum)', /^rejected by V8: .* so function\.cache is damaged/, (root: string) => {
      const packed = readFileSync(join(root, 'function.cache'));
      for (let i = packed.length >> 1; i < (packed.length >> 1) + 64; i++) packed[i] = packed[i]! ^ 0x5a;
      writeFileSync(join(root, 'function.cache'), packed);
    }],
    ['absent', 'no cache at all', /^absent: no function\.cache beside function\.js/, (root: string) => rmSync(join(root, 'function.cache'))],
  ])('compiles as usual when the code cache is %s (%s), and says so', async (expected, _what, logged, spoil) => {
    const root = mkdtempSync(join(tmpdir(), 'scf-cache-'));
    execFileSync('unzip', ['-q', ZIP, '-d', root]);
    spoil(root);
    sandbox.reset();
    const { codeCache, responses, stdout } = await invoke([genericEvent({ eventId: `cache-${expected}`, cluster: 'demo-bj', template: 'multi-disk' })], {}, root);
    expect(codeCache).toBe(expected);
    expect(coldStartCodeCache(stdout)).toMatch(logged);
    expect(responses[0]!.json).toMatchObject({ status: 'created', clusterId: 'cls-nfjdk3n0' });
    expect(sandbox.createdCalls).toHaveLength(1);
  });

  // SCF does not document the flags it starts Node with; a heap limit is a V8 flag, and V8 then
  // refuses the cache. The function runs all the same, and its log line names the flags.
  it('compiles as usual on a Node started with V8 flags the cache was not made with, naming them', async () => {
    sandbox.reset();
    const { codeCache, responses, stdout } = await invoke([genericEvent({ eventId: 'cache-flags', cluster: 'demo-bj', template: 'multi-disk' })], {}, codeRoot, { args: V8_FLAGS_NOT_PACKAGED });
    expect(codeCache).toBe('rejected');
    expect(coldStartCodeCache(stdout)).toBe(`rejected by V8: made by Node v18.15.0 started with no flags, this is Node v18.15.0 started with ${V8_FLAGS_NOT_PACKAGED.join(' ')}; function.js compiled at cold start`);
    expect(responses[0]!.json).toMatchObject({ status: 'created' });
  });

  // Any other Node version: this test's own (the tests run on 18.17 or newer).
  it('compiles as usual under another Node version, naming it', async () => {
    sandbox.reset();
    const { node, codeCache, responses, stdout } = await invoke([genericEvent({ eventId: 'cache-node', cluster: 'demo-bj', template: 'multi-disk' })], {}, codeRoot, { binary: process.execPath });
    expect(node).not.toBe('v18.15.0');
    expect(codeCache).toBe('rejected');
    expect(coldStartCodeCache(stdout)).toBe(`rejected by V8: made by Node v18.15.0 started with no flags, this is Node ${process.version} started with no flags; function.js compiled at cold start`);
    expect(responses[0]!.json).toMatchObject({ status: 'created' });
  });

  // package.mjs promises that the same input makes the same zip. The cache is taken after the
  // function answered an event (build/make-code-cache.cjs): made again from the same function.js,
  // it is the same, byte for byte.
  it('makes the same code cache again from the same function.js', () => {
    const again = mkdtempSync(join(tmpdir(), 'scf-cache-again-'));
    execFileSync('unzip', ['-q', ZIP, '-d', again]);
    rmSync(join(again, 'function.cache'));
    // The warm-up's code root, as package.mjs makes it: the example config without its notify:
    // section, compiled and validated by the packaged function itself.
    const warm = mkdtempSync(join(tmpdir(), 'scf-cache-warm-'));
    mkdirSync(join(warm, 'config'));
    const { notify: _notices, ...warmConfig } = parse(readFileSync(EXAMPLE_CONFIG_PATH, 'utf8')) as Record<string, unknown>;
    writeFileSync(join(warm, 'config', 'scaleout.json'), `${JSON.stringify(warmConfig, null, 1)}\n`);
    const validated = execFileSync(node18, ['-e', `process.stdout.write(require('./index.js').validatedConfigOf(${JSON.stringify(join(warm, 'config', 'scaleout.json'))}))`], { cwd: again, env: { PATH: process.env.PATH ?? '' } });
    writeFileSync(join(warm, 'config', 'scaleout.validated.json'), validated);
    execFileSync(node18, ['--random-seed=1', join(REPO_ROOT, 'build', 'make-code-cache.cjs'), again, warm], { env: { PATH: process.env.PATH ?? '' }, stdio: 'ignore' });
    expect(readFileSync(join(again, 'function.cache')).equals(readFileSync(join(codeRoot, 'function.cache')))).toBe(true);
  }, 30_000);

  it('refuses to start without credentials, naming the variables', async () => {
    await expect(invoke([genericEvent({ eventId: 'x', cluster: 'demo', template: 'small' })], { TENCENTCLOUD_SECRETID: '', TENCENTCLOUD_SECRETKEY: '' })).rejects.toThrow(
      /TENCENTCLOUD_SECRETID: must be set/,
    );
    expect(sandbox.calls).toHaveLength(1);
  });
});
