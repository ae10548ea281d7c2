import { parseChatCommand } from '../../../src/sources/chat/command';

describe('parseChatCommand', () => {
  it.each([
    ['demo 2', { kind: 'scale', cluster: 'demo', count: 2, dryRun: false }],
    ['/scaleout demo 2 small', { kind: 'scale', cluster: 'demo', count: 2, template: 'small', dryRun: false }],
    ['  @_user_1  /scaleout demo-bj 1 multi-disk ', { kind: 'scale', cluster: 'demo-bj', count: 1, template: 'multi-disk', dryRun: false }],
    ['<@U024BE7LH> scaleout demo 3 --dry-run', { kind: 'scale', cluster: 'demo', count: 3, dryRun: true }],
    ['@ScaleBot /scaleout dry-run demo 1', { kind: 'scale', cluster: 'demo', count: 1, dryRun: true }],
    ['', { kind: 'help' }],
    ['help', { kind: 'help' }],
    ['/scaleout', { kind: 'help' }],
    ['demo', { kind: 'help', problem: 'give a cluster and a count' }],
    ['demo two', { kind: 'help', problem: 'count must be a whole number, got "two"' }],
    ['demo -1', { kind: 'help', problem: 'count must be a whole number, got "-1"' }],
    ['demo 2 small extra words', { kind: 'help', problem: 'unexpected "extra words"' }],
    ['status', { kind: 'status' }],
    ['/scaleout STATUS demo', { kind: 'status', cluster: 'demo' }],
    ['<@U024BE7LH> status demo-bj', { kind: 'status', cluster: 'demo-bj' }],
    ['status demo now please', { kind: 'help', problem: 'unexpected "now please"' }],
  ])('%j', (text, expected) => {
    expect(parseChatCommand(text)).toEqual(expected);
  });
});

describe('/scalein', () => {
  it('a cluster and a count, or all; a dry run; anything else is help naming the problem', () => {
    expect(parseChatCommand('/scalein demo 2')).toEqual({ kind: 'scale-in', cluster: 'demo', count: 2, dryRun: false });
    expect(parseChatCommand('@bot /scalein demo all --dry-run')).toEqual({ kind: 'scale-in', cluster: 'demo', count: 'all', dryRun: true });
    expect(parseChatCommand('/scalein demo')).toMatchObject({ kind: 'help', problem: 'give a cluster and a count (or all) to give back' });
    expect(parseChatCommand('/scalein demo 0')).toMatchObject({ kind: 'help', problem: expect.stringContaining('count must be a whole number from 1, or all') });
    expect(parseChatCommand('/scalein demo 2 small')).toMatchObject({ kind: 'help', problem: 'unexpected "small"' });
  });
});
