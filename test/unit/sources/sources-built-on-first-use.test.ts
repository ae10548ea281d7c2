import { createSources } from '../../../src/sources';
import { UnauthorizedError } from '../../../src/errors';
import { exampleConfig, webhookRequest } from '../../support/fixtures';

// Each sender module's constructor, counted: src/sources/index.ts builds a sender on its first use only.
jest.mock('../../../src/sources/generic', () => {
  const actual = jest.requireActual('../../../src/sources/generic');
  return { ...actual, createGenericSource: jest.fn(actual.createGenericSource) };
});
jest.mock('../../../src/sources/slack', () => {
  const actual = jest.requireActual('../../../src/sources/slack');
  return { ...actual, createSlackSource: jest.fn(actual.createSlackSource) };
});
// eslint-disable-next-line @typescript-eslint/no-require-imports
const built = (module: string, constructor: string): jest.Mock => require(`../../../src/sources/${module}`)[constructor];

const EVERY_SENDER = ['generic', 'alertmanager', 'grafana', 'tencent-monitor', 'slack', 'feishu', 'dingtalk'];
const env = { SCALEOUT_GENERIC_TOKEN: 'test-token' };
const NOW = 1_764_000_000_000;

beforeEach(() => jest.clearAllMocks());

describe('createSources: each sender built on its first use', () => {
  it('knows every sender of the config, in its order, without building one', () => {
    const sources = createSources(exampleConfig(), env);
    expect([...sources.keys()]).toEqual(EVERY_SENDER);
    expect(sources.size).toBe(EVERY_SENDER.length);
    expect(sources.has('slack')).toBe(true);
    expect(sources.has('nope')).toBe(false);
    expect(built('generic', 'createGenericSource')).not.toHaveBeenCalled();
    expect(built('slack', 'createSlackSource')).not.toHaveBeenCalled();
  });

  it('builds the sender asked for, once, and no other', () => {
    const sources = createSources(exampleConfig(), env);
    const generic = sources.get('generic');
    expect(generic?.name).toBe('generic');
    expect(sources.get('generic')).toBe(generic);
    expect(built('generic', 'createGenericSource')).toHaveBeenCalledTimes(1);
    expect(built('slack', 'createSlackSource')).not.toHaveBeenCalled();
    expect(sources.get('nope')).toBeUndefined();
  });

  it('builds every sender for whatever reads every value, in the order of the keys', () => {
    const sources = createSources(exampleConfig(), env);
    const slack = sources.get('slack');
    expect([...sources.values()].map((s) => s.name)).toEqual(EVERY_SENDER);
    expect([...sources].map(([name, source]) => [name, source.name])).toEqual(EVERY_SENDER.map((name) => [name, name]));
    const seen: string[] = [];
    sources.forEach((source, name, map) => {
      expect(map).toBe(sources);
      seen.push(`${name}:${source.name}`);
    });
    expect(seen).toEqual(EVERY_SENDER.map((name) => `${name}:${name}`));
    expect(sources.get('slack')).toBe(slack);
    expect(built('slack', 'createSlackSource')).toHaveBeenCalledTimes(1);
  });

  it('reads the secrets of the cold start, as when every sender was built there', () => {
    const changing: NodeJS.ProcessEnv = { ...env };
    const sources = createSources(exampleConfig(), changing);
    changing.SCALEOUT_GENERIC_TOKEN = 'set-later';
    const generic = sources.get('generic')!;
    expect(() => generic.authenticate(webhookRequest({ headers: { 'content-type': 'application/json', authorization: 'Bearer test-token' } }), NOW)).not.toThrow();
    expect(() => generic.authenticate(webhookRequest({ headers: { 'content-type': 'application/json', authorization: 'Bearer set-later' } }), NOW)).toThrow(UnauthorizedError);
  });

  it('enables only the senders the config names', () => {
    const config = exampleConfig();
    const sources = createSources({ ...config, sources: { generic: config.sources.generic } }, env);
    expect([...sources.keys()]).toEqual(['generic']);
  });
});
