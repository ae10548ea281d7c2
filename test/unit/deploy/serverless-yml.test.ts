import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { envVarsNamedBy } from '../../../deploy/config-env-vars';
import { EXAMPLE_CONFIG_PATH, REPO_ROOT } from '../../support/fixtures';

/**
 * serverless.yml, checked the way serverless-tencent-scf checks it (its shared/validate.js: service
 * and function names, `file.function` handlers, the event types it knows) and against what this
 * function needs: Node 18.15, the prebuilt zip, every env var the example config names.
 */
const yml = parse(readFileSync(join(REPO_ROOT, 'serverless.yml'), 'utf8')) as Record<string, any>;
const NAME = /^[a-zA-Z_][a-zA-Z0-9\-_]*$/;
const PLUGIN_EVENT_TYPES = ['apigw', 'cos', 'cmq', 'timer', 'ckafka'];

describe('serverless.yml', () => {
  it("passes serverless-tencent-scf's validation", () => {
    expect(yml.provider.name).toBe('tencent');
    expect(yml.plugins).toEqual(['serverless-tencent-scf']);
    expect(yml.service).toMatch(NAME);
    expect(yml.service.length).toBeLessThanOrEqual(128);
    for (const [key, fn] of Object.entries(yml.functions as Record<string, any>)) {
      expect(key).toMatch(NAME);
      expect(fn.handler).toMatch(/^[^.]+\.[^.]+$/);
      for (const event of fn.events) expect(PLUGIN_EVENT_TYPES).toContain(Object.keys(event)[0]);
    }
  });

  it('deploys the prebuilt zip on Node 18.15 with the handler the bundle exports', () => {
    expect(yml.package).toEqual({ artifact: 'dist/tke-scaleout.zip' });
    expect(yml.provider.runtime).toBe('Nodejs18.15');
    expect(yml.functions.webhook.handler).toBe('index.main_handler');
    expect(yml.provider.timeout).toBeGreaterThanOrEqual(1);
    expect(yml.provider.timeout).toBeLessThanOrEqual(900);
    expect(yml.provider.role).toEqual(expect.any(String));
  });

  it('passes on every env var the example config names, and no reserved one', () => {
    const variables = Object.keys(yml.provider.environment.variables as Record<string, string>);
    const named = envVarsNamedBy(parse(readFileSync(EXAMPLE_CONFIG_PATH, 'utf8')));
    expect(variables).toEqual(expect.arrayContaining([...named, 'SCALEOUT_STORE']));
    for (const name of variables) expect(name).not.toMatch(/^(SCF_|QCLOUD_|TENCENTCLOUD_)/);
  });
});
