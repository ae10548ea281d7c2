import { inertMarkdown, parseRetryAfter, redact, secretsOf, sinkUrl, ZWSP } from '../../../../src/notify/sinks/post';
import { NOW, settings } from './fixtures';

describe('sinkUrl', () => {
  const label = 'the slack sink "team"';
  it.each([
    ['https://hooks.slack.com/services/T0/B0/x', true],
    ['http://127.0.0.1:9000/slack/x', true],
    ['http://localhost:9000/slack/x', true],
    ['http://hooks.slack.com/services/T0/B0/x', false],
    ['ftp://hooks.slack.com/x', false],
    ['https://user:pass@hooks.slack.com/x', false],
    ['hooks.slack.com/services/x', false],
  ])('%s: usable %s, a refusal naming the env var only', (url, usable) => {
    const result = sinkUrl(settings({ url, urlEnv: 'SLACK_URL' }), label);
    if (usable) expect(result).toBeInstanceOf(URL);
    else {
      expect(result).toMatchObject({ ok: false, retry: false, reason: expect.stringContaining('env var SLACK_URL') });
      expect(JSON.stringify(result)).not.toContain(url);
    }
  });
});

describe('secretsOf and redact', () => {
  it('takes the URL, its token-like path segments, its query values and the secret out, and leaves the words', () => {
    const sink = settings({ url: 'https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7aoc-4bc4-97a0', urlEnv: 'WECOM_URL', secret: 's3cr3t-value' });
    const text = redact('invalid webhook url key=693a91f6-7aoc-4bc4-97a0 s3cr3t-value, see https://open.work.weixin.qq.com/devtool/query?e=93000', secretsOf(sink));
    expect(text).toBe('invalid webhook url key=[redacted] [redacted], see [url]');
  });

  it('takes Slack\'s path tokens out', () => {
    const secrets = secretsOf(settings({ url: 'https://hooks.slack.com/services/T0AAAAAAA/B0BBBBBBB/abcdefghijklmnopqrstuvwx', urlEnv: 'SLACK_URL' }));
    expect(redact('T0AAAAAAA B0BBBBBBB abcdefghijklmnopqrstuvwx services', secrets)).toBe('[redacted] [redacted] [redacted] services');
  });
});

describe('parseRetryAfter', () => {
  it('reads seconds and HTTP dates, and nothing else', () => {
    expect(parseRetryAfter('7', NOW)).toBe(7000);
    expect(parseRetryAfter(new Date(NOW + 30_000).toUTCString(), NOW)).toBe(30_000);
    expect(parseRetryAfter('soon', NOW)).toBeUndefined();
    expect(parseRetryAfter(null, NOW)).toBeUndefined();
  });
});

describe('inertMarkdown', () => {
  it('breaks links, images, tags and line starts without changing what is read', () => {
    const inert = inertMarkdown('[x](javascript:alert(1)) ![i](https://e/i.png) <@all>\n# h');
    expect(inert).toBe(`[x]${ZWSP}(javascript:alert(1)) !${ZWSP}[i]${ZWSP}(https://e/i.png) <${ZWSP}@all> # h`);
    expect(inert.replace(new RegExp(ZWSP, 'g'), '')).toBe('[x](javascript:alert(1)) ![i](https://e/i.png) <@all> # h');
  });
});
