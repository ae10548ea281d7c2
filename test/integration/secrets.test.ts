import { encryptFeishu, feishuSignature } from '../../src/auth/feishu-crypto';
import { signGenericPayload } from '../../src/auth/hmac';
import { signSlackRequest } from '../../src/auth/slack-signature';
import type { FunctionUrlEvent } from '../../src/scf/event';
import { startHarness, type Harness } from '../support/harness';

/**
 * Sender secrets and their rotation, through the real handler:
 *  - a secret that is only whitespace is no secret: the sender answers 503 naming the variable,
 *    exactly as when it is unset (before: " " was taken as the secret, and anyone could sign with it);
 *  - each secret may be a list of env vars, current first: a request signed with the current or a
 *    previous secret is accepted (octokit's `additionalSecrets`), so a secret rotates without
 *    downtime; a previous one left unset or blank is simply not used.
 */
const post = (h: Harness, source: string, body: string, headers: Record<string, string>) =>
  h.invoke({ httpMethod: 'POST', path: `/hooks/${source}`, headers, body } satisfies FunctionUrlEvent);

let events = 0;
const genericDelivery = (secret: string) => {
  const body = JSON.stringify({ eventId: `rot-${++events}`, cluster: 'demo', template: 'small', count: 1 });
  const ts = String(Math.floor(Date.now() / 1000));
  return { body, headers: { 'content-type': 'application/json', 'x-scaleout-timestamp': ts, 'x-scaleout-signature': signGenericPayload(secret, ts, body) } };
};

const hmacGeneric = (secretEnv: string | string[]) => (doc: Record<string, any>) => {
  doc.sources.generic = { auth: { hmac: { secretEnv } } };
  doc.throttle = { cooldownSeconds: 0, windowSeconds: 3600, maxNodesPerWindow: 10_000 };
};

describe('blank secrets', () => {
  it.each([
    ['spaces', '   '],
    ['a tab and a newline', '\t\n'],
  ])('a generic HMAC secret of %s is refused like an unset one: 503, and a request signed with it does nothing', async (_name, blank) => {
    const h = await startHarness({ env: { GENERIC_HMAC_SECRET: blank }, config: hmacGeneric('GENERIC_HMAC_SECRET') });
    try {
      const { body, headers } = genericDelivery(blank);
      const reply = await post(h, 'generic', body, headers);
      expect(reply.statusCode).toBe(503);
      expect(reply.json.error).toMatchObject({ code: 'SenderNotConfigured', message: 'sender generic is not ready: its secret env var GENERIC_HMAC_SECRET holds only whitespace, which is no secret' });
      expect(h.sandbox.calls).toHaveLength(0);
      expect(JSON.stringify(reply.json)).not.toContain(blank);
    } finally {
      await h.close();
    }
  });

  it('a blank Slack signing secret is refused too', async () => {
    const h = await startHarness({ env: { SLACK_SIGNING_SECRET: ' ', SCALEOUT_CHAT_ALLOW: 'U1' } });
    try {
      const body = new URLSearchParams({ command: '/scaleout', text: 'demo 1', user_id: 'U1', channel_id: 'C1', trigger_id: 't-blank' }).toString();
      const ts = String(Math.floor(Date.now() / 1000));
      const reply = await post(h, 'slack', body, { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': ts, 'x-slack-signature': signSlackRequest(' ', ts, body) });
      expect(reply.statusCode).toBe(503);
      expect(h.sandbox.calls).toHaveLength(0);
    } finally {
      await h.close();
    }
  });
});

describe('rotating a secret', () => {
  let h: Harness;
  afterEach(() => h.close());

  it('accepts the current and the previous secret, and nothing else', async () => {
    h = await startHarness({ env: { HMAC_CURRENT: 'new-secret', HMAC_PREVIOUS: 'old-secret' }, config: hmacGeneric(['HMAC_CURRENT', 'HMAC_PREVIOUS']) });
    for (const secret of ['new-secret', 'old-secret']) {
      const { body, headers } = genericDelivery(secret);
      expect((await post(h, 'generic', body, headers)).json.status).toBe('created');
    }
    const { body, headers } = genericDelivery('another-secret');
    const refused = await post(h, 'generic', body, headers);
    expect(refused.statusCode).toBe(401);
    expect(refused.json.error.message).toBe('signature does not match the body');
    expect(h.sandbox.createdCalls).toHaveLength(2);
  });

  it('works with the previous secret\'s variable removed (the rotation is over) or blank', async () => {
    for (const previous of [{}, { HMAC_PREVIOUS: '  ' }] as Array<Record<string, string>>) {
      h = await startHarness({ env: { HMAC_CURRENT: 'new-secret', ...previous }, config: hmacGeneric(['HMAC_CURRENT', 'HMAC_PREVIOUS']) });
      const current = genericDelivery('new-secret');
      expect((await post(h, 'generic', current.body, current.headers)).statusCode).toBe(200);
      const blank = genericDelivery('  ');
      expect((await post(h, 'generic', blank.body, blank.headers)).statusCode).toBe(401);
      await h.close();
    }
    h = await startHarness({ env: { HMAC_CURRENT: 'x' }, config: hmacGeneric('HMAC_CURRENT') });
  });

  it('Feishu: an event encrypted and signed with the previous Encrypt Key is accepted during the rotation', async () => {
    h = await startHarness({
      env: { FEISHU_VERIFICATION_TOKEN: 'vt', FEISHU_ENCRYPT_KEY: 'key-new', FEISHU_ENCRYPT_KEY_PREVIOUS: 'key-old', SCALEOUT_CHAT_ALLOW: 'ou_1' },
      config: (doc) => {
        doc.sources.feishu.encryptKeyEnv = ['FEISHU_ENCRYPT_KEY', 'FEISHU_ENCRYPT_KEY_PREVIOUS'];
        delete doc.sources.feishu.appIdEnv;
        delete doc.sources.feishu.appSecretEnv;
      },
    });
    const deliver = (key: string, eventId: string) => {
      const event = {
        schema: '2.0',
        header: { event_id: eventId, event_type: 'im.message.receive_v1', token: 'vt' },
        event: { sender: { sender_id: { open_id: 'ou_1' } }, message: { message_type: 'text', content: JSON.stringify({ text: '/scaleout demo 1 --dry-run' }) } },
      };
      const body = JSON.stringify({ encrypt: encryptFeishu(JSON.stringify(event), key) });
      const ts = String(Math.floor(Date.now() / 1000));
      return post(h, 'feishu', body, { 'content-type': 'application/json', 'x-lark-request-timestamp': ts, 'x-lark-request-nonce': 'n', 'x-lark-signature': feishuSignature(ts, 'n', key, body) });
    };
    expect((await deliver('key-new', 'ev-new')).json.content.text).toMatch(/^Dry run/);
    expect((await deliver('key-old', 'ev-old')).json.content.text).toMatch(/^Dry run/);
    expect((await deliver('key-other', 'ev-other')).statusCode).toBe(401);
  });
});
