import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { envVarsNamedBy } from '../../../deploy/config-env-vars';
import { checkSchedule, DEFAULT_FOLLOW_SCHEDULE, FOLLOW_TRIGGER_NAME, ROLE_TKE_ACTIONS, TIMER_TRIGGER_NAME } from '../../../deploy/follow-timer';
import { EXAMPLE_CONFIG_PATH, REPO_ROOT } from '../../support/fixtures';

/**
 * serverless.yml, checked the way serverless-tencent-scf checks it (its shared/validate.js: service
 * and function names, `file.function` handlers, the event types it knows) and against what this
 * function needs: Node 18.15, the prebuilt zip, every env var the example config names, the follow
 * timer as `npm run deploy` makes it, and the role's TKE actions named for whoever writes the policy.
 */
const text = readFileSync(join(REPO_ROOT, 'serverless.yml'), 'utf8');
const yml = parse(text) as Record<string, any>;
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

  it('has the follow timer npm run deploy makes: scaleout-follow, every minute, on', () => {
    const timers = (yml.functions.webhook.events as Array<Record<string, any>>).filter((event) => 'timer' in event).map((event) => event.timer);
    expect(timers).toEqual([{ name: FOLLOW_TRIGGER_NAME, parameters: { cronExpression: DEFAULT_FOLLOW_SCHEDULE, enable: true } }]);
    // The plugin's getTimerEvent refuses a timer without parameters.cronExpression; SCF's rules for the rest.
    expect(timers[0].name).toMatch(TIMER_TRIGGER_NAME);
    expect(checkSchedule(timers[0].parameters.cronExpression)).toMatchObject({ ok: true });
    expect(text).toMatch(/UNVERIFIED/);
  });

  it("names every TKE action the role needs, the follow pass's included", () => {
    expect(ROLE_TKE_ACTIONS).toEqual(expect.arrayContaining(['tke:DescribeClusterInstances', 'tke:DeleteClusterInstances']));
    for (const action of ROLE_TKE_ACTIONS) expect(text).toContain(action);
  });
});
