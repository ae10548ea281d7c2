import { dingtalkSign, verifyDingtalkSign } from '../../../src/auth/dingtalk-sign';
import { decryptFeishu, encryptFeishu, feishuSignature, verifyFeishuSignature } from '../../../src/auth/feishu-crypto';
import { signSlackRequest, verifySlackSignature } from '../../../src/auth/slack-signature';
import { UnauthorizedError } from '../../../src/errors';

describe('Slack v0 signature', () => {
  // Slack's published example (api.slack.com/authentication/verifying-requests-from-slack).
  const secret = '8f742231b10e8888abcd99yyyzzz85a5';
  const timestamp = '1531420618';
  const body =
    'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c';
  const headers = { 'x-slack-request-timestamp': timestamp, 'x-slack-signature': 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503' };

  it('reproduces and verifies the published example', () => {
    expect(signSlackRequest(secret, timestamp, body)).toBe(headers['x-slack-signature']);
    expect(() => verifySlackSignature(headers, Buffer.from(body), secret, 1531420618_000, 300)).not.toThrow();
  });

  it.each([
    ['a one-byte change', () => verifySlackSignature(headers, Buffer.from(body.replace('text=', 'text=x')), secret, 1531420618_000, 300)],
    ['another secret', () => verifySlackSignature(headers, Buffer.from(body), `${secret}0`, 1531420618_000, 300)],
    ['a stale timestamp', () => verifySlackSignature(headers, Buffer.from(body), secret, 1531420618_000 + 301_000, 300)],
    ['a missing signature', () => verifySlackSignature({ 'x-slack-request-timestamp': timestamp }, Buffer.from(body), secret, 1531420618_000, 300)],
  ])('refuses %s', (_name, run) => {
    expect(run).toThrow(UnauthorizedError);
  });
});

describe('Feishu encryption and signature', () => {
  it('decrypts the published example', () => {
    // open.feishu.cn, event subscription "decrypt" example: Encrypt Key "test key".
    expect(decryptFeishu('P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk=', 'test key')).toBe('hello world');
  });

  it('round-trips, and refuses another key', () => {
    const encrypted = encryptFeishu('{"a":1}', 'k1');
    expect(decryptFeishu(encrypted, 'k1')).toBe('{"a":1}');
    expect(() => decryptFeishu(encrypted, 'k2')).toThrow(UnauthorizedError);
  });

  it('verifies X-Lark-Signature over timestamp + nonce + key + body', () => {
    const body = '{"encrypt":"abc"}';
    const headers = { 'x-lark-request-timestamp': '1764000000', 'x-lark-request-nonce': 'n1', 'x-lark-signature': feishuSignature('1764000000', 'n1', 'key', body) };
    expect(() => verifyFeishuSignature(headers, Buffer.from(body), 'key', 1764000000_000, 300)).not.toThrow();
    expect(() => verifyFeishuSignature(headers, Buffer.from(`${body} `), 'key', 1764000000_000, 300)).toThrow(UnauthorizedError);
    expect(() => verifyFeishuSignature(headers, Buffer.from(body), 'key', 1764000301_000, 300)).toThrow('from now');
  });
});

describe('DingTalk sign', () => {
  const secret = 'SECxxxxxxxx';
  it('is base64 HMAC-SHA256 of "timestamp\\nsecret", refused over an hour away', () => {
    const ts = '1764000000000';
    const sign = dingtalkSign(secret, ts);
    expect(sign).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    expect(() => verifyDingtalkSign({ timestamp: ts, sign }, secret, 1764000000000 + 3_600_000, 3600)).not.toThrow();
    expect(() => verifyDingtalkSign({ timestamp: ts, sign }, secret, 1764000000000 + 3_601_000, 3600)).toThrow(UnauthorizedError);
    expect(() => verifyDingtalkSign({ timestamp: ts, sign }, 'other', 1764000000000, 3600)).toThrow('sign does not match');
    expect(() => verifyDingtalkSign({ timestamp: ts }, secret, 1764000000000, 3600)).toThrow('missing sign header');
  });
});
