import { Writable } from 'node:stream';
import { coldStart } from '../../src/cold-start';
import { ConfigError } from '../../src/errors';
import { createLogger } from '../../src/log/logger';
import { EXAMPLE_CONFIG_PATH } from '../support/fixtures';
import { thrownBy } from '../support/thrown';

const goodEnv = {
  SCALEOUT_CONFIG: EXAMPLE_CONFIG_PATH,
  TENCENTCLOUD_SECRETID: 'AKIDexample',
  TENCENTCLOUD_SECRETKEY: 'example-key',
};

function start(env: NodeJS.ProcessEnv) {
  const lines: string[] = [];
  const logger = createLogger(new Writable({ write: (chunk: Buffer, _e, cb) => (lines.push(chunk.toString()), cb()) }));
  return { run: () => coldStart(env, logger), lines };
}

describe('coldStart: the environment is checked once, with the key named', () => {
  it('takes an empty variable as unset: the memory store, the public TKE endpoint', () => {
    const { run, lines } = start({ ...goodEnv, SCALEOUT_STORE: '', TKE_ENDPOINT: '', SCALEOUT_SCF_ENDPOINT: '', SCALEOUT_FUNCTION_NAME: '' });
    expect(run().store.kind).toBe('memory');
    expect(JSON.parse(lines[0]!)).toMatchObject({ store: 'memory', tke: 'https://tke.tencentcloudapi.com', chatFollowUps: expect.stringContaining('off') });
  });

  it('starts with the example config and role credentials', () => {
    const { run, lines } = start(goodEnv);
    expect(run().app.config.templates.size).toBe(3);
    expect(JSON.parse(lines[0]!)).toMatchObject({ msg: 'cold start', store: 'memory', tke: 'https://tke.tencentcloudapi.com' });
    expect(lines.join('')).not.toContain('example-key');
  });

  // The zip's index.js (build/function-loader.cjs) says whether V8 took the packaged code cache, and
  // if not why; the cold-start line carries it, so that a slower cold start explains itself.
  it('says in its line whether the packaged code cache was taken, when loaded through the zip', () => {
    const refused = 'rejected by V8: made by Node v18.15.0 started with no flags, this is Node v18.15.0 started with --max-old-space-size=512; function.js compiled at cold start';
    const withCache = start({ ...goodEnv, SCALEOUT_CODE_CACHE: refused });
    withCache.run();
    expect(JSON.parse(withCache.lines[0]!)).toMatchObject({ msg: 'cold start', codeCache: refused });
    const withoutLoader = start(goodEnv);
    withoutLoader.run();
    expect(JSON.parse(withoutLoader.lines[0]!)).not.toHaveProperty('codeCache');
  });

  it.each([
    ['missing credentials', { SCALEOUT_CONFIG: EXAMPLE_CONFIG_PATH }, 'TENCENTCLOUD_SECRETID: must be set'],
    ['a TKE_ENDPOINT that is not a URL', { ...goodEnv, TKE_ENDPOINT: 'tke.internal' }, 'TKE_ENDPOINT: must be a URL such as http://127.0.0.1:9001 or https://tke.internal.tencentcloudapi.com, got "tke.internal"'],
    ['a TKE_ENDPOINT with a path', { ...goodEnv, TKE_ENDPOINT: 'https://tke.internal/v3' }, 'TKE_ENDPOINT: must be a URL such as'],
    ['an SCF endpoint that is not a URL', { ...goodEnv, SCALEOUT_SCF_ENDPOINT: 'scf.internal' }, 'SCALEOUT_SCF_ENDPOINT: must be a URL such as http://127.0.0.1:9002, got "scf.internal"'],
    ['a function name without its region', { ...goodEnv, SCALEOUT_FUNCTION_NAME: 'tke-scaleout', SCALEOUT_FUNCTION_REGION: '' }, 'SCALEOUT_FUNCTION_REGION: must be set with SCALEOUT_FUNCTION_NAME'],
    ['an empty secret key', { ...goodEnv, TENCENTCLOUD_SECRETKEY: '' }, 'TENCENTCLOUD_SECRETKEY: must be set'],
    ['a store that is neither memory nor a Redis URL', { ...goodEnv, SCALEOUT_STORE: 'postgres://u:hunter2@db:5432' }, 'SCALEOUT_STORE: must be "memory" or a URL'],
    ['a config file that does not exist', { ...goodEnv, SCALEOUT_CONFIG: '/nonexistent/scaleout.yaml' }, 'cannot read the file'],
  ])('refuses %s, logging a fatal line', (_name, env, problem) => {
    const { run, lines } = start(env);
    const error = thrownBy(run, ConfigError);
    expect(error.problems.some((p) => p.startsWith(problem))).toBe(true);
    expect(lines.join('')).not.toContain('hunter2');
    expect(JSON.parse(lines.at(-1)!)).toMatchObject({ level: 'fatal', problems: expect.arrayContaining([expect.stringContaining(problem)]) });
  });
});
