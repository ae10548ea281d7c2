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
  it('starts with the example config and role credentials', () => {
    const { run, lines } = start(goodEnv);
    expect(run().app.config.templates.size).toBe(2);
    expect(JSON.parse(lines[0]!)).toMatchObject({ msg: 'cold start', store: 'memory', tke: 'https://tke.tencentcloudapi.com' });
    expect(lines.join('')).not.toContain('example-key');
  });

  it.each([
    ['missing credentials', { SCALEOUT_CONFIG: EXAMPLE_CONFIG_PATH }, 'TENCENTCLOUD_SECRETID: must be set'],
    ['a TKE_ENDPOINT that is not a URL', { ...goodEnv, TKE_ENDPOINT: 'tke.internal' }, 'TKE_ENDPOINT: must be a URL'],
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
