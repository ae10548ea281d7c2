import { signGrafanaPayload } from '../../src/auth/grafana-hmac';
import type { FunctionUrlEvent } from '../../src/scf/event';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixture, REPO_ROOT } from '../support/fixtures';
import { startHarness, type Harness } from '../support/harness';

/** The Grafana sender through the real handler, with Grafana's webhook payload shape, signed as Grafana signs. */
const payload = JSON.stringify(fixture('grafana-firing.json'));
const SECRET = 'grafana-secret';

const deliver = (h: Harness, body: string, headers: Record<string, string>) => {
  const event: FunctionUrlEvent = { httpMethod: 'POST', path: '/hooks/grafana', headers: { 'content-type': 'application/json', 'user-agent': 'Grafana', ...headers }, body };
  return h.invoke(event);
};

describe('Grafana sender, HMAC without a timestamp (Grafana default), replays accepted in so many words', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness({
      env: { GRAFANA_WEBHOOK_SECRET: SECRET },
      config: (doc) => {
        delete doc.sources.grafana.auth.hmac.timestampHeader;
        doc.sources.grafana.auth.hmac.acceptReplays = true;
        doc.throttle = { cooldownSeconds: 0, windowSeconds: 3600, maxNodesPerWindow: 10_000 };
      },
    });
  });
  afterEach(() => h.close());

  it('verifies the signature and maps the alert to the rule cluster, template and count', async () => {
    const reply = await deliver(h, payload, { 'x-grafana-alert-signature': signGrafanaPayload(SECRET, payload) });
    expect(reply.statusCode).toBe(200);
    expect(reply.json.results[0]).toMatchObject({
      status: 'created',
      eventId: `demo-critical/c6eadffa33fcdf37/${Math.floor(Date.parse('2026-11-25T09:51:03.157076+02:00') / 1000)}`,
      clusterId: 'cls-e55paxnt',
      template: 'small',
      count: 3,
    });
  });

  it.each([
    ['a one-byte change to the body', payload.replace('"3"', '"4"'), signGrafanaPayload(SECRET, payload)],
    ['a signature for another secret', payload, signGrafanaPayload('other-secret', payload)],
    ['no signature header', payload, undefined],
    ['a malformed signature', payload, 'sha256=abc'],
  ])('refuses %s with 401 and sends nothing', async (_name, body, signature) => {
    const reply = await deliver(h, body, signature === undefined ? {} : { 'x-grafana-alert-signature': signature });
    expect(reply.statusCode).toBe(401);
    expect(h.sandbox.calls).toHaveLength(0);
  });

  it('names what is missing from a body that is JSON but not Grafana-shaped', async () => {
    const body = JSON.stringify({ title: 'x', state: 'alerting' });
    const reply = await deliver(h, body, { 'x-grafana-alert-signature': signGrafanaPayload(SECRET, body) });
    expect(reply.statusCode).toBe(400);
    expect(reply.json.error.message).toBe('not the Grafana webhook payload: alerts: is required');
  });
});

describe('Grafana sender, HMAC with a timestamp header', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness({
      env: { GRAFANA_WEBHOOK_SECRET: SECRET },
      config: (doc) => (doc.sources.grafana.auth.hmac.timestampHeader = 'X-Grafana-Alerting-Timestamp'),
    });
  });
  afterEach(() => h.close());

  const signedAt = (secondsAgo: number, body = payload) => {
    const ts = String(Math.floor(Date.now() / 1000) - secondsAgo);
    return { 'x-grafana-alerting-timestamp': ts, 'x-grafana-alert-signature': signGrafanaPayload(SECRET, body, ts) };
  };

  it('verifies "<timestamp>:<body>"', async () => {
    expect((await deliver(h, payload, signedAt(5))).json.results[0].status).toBe('created');
  });

  // Headers are made when the test runs, not when it is collected: a timestamp must be fresh then.
  it.each([
    ['a stale timestamp', () => signedAt(302)],
    ['a future timestamp', () => signedAt(-302)],
    ['a missing timestamp', () => ({ 'x-grafana-alert-signature': signGrafanaPayload(SECRET, payload) })],
    ['a signature of the body alone', () => ({ 'x-grafana-alerting-timestamp': String(Math.floor(Date.now() / 1000)), 'x-grafana-alert-signature': signGrafanaPayload(SECRET, payload) })],
  ])('refuses %s with 401', async (_name, headers) => {
    expect((await deliver(h, payload, headers())).statusCode).toBe(401);
    expect(h.sandbox.calls).toHaveLength(0);
  });
});

// grafana/alerting http/hmac.go: `defaultHeaderName = "X-Grafana-Alert-Signature"`,
// "If header is empty, it defaults to X-Grafana-Alert-Signature". A contact point whose Header field
// is left blank signs in that header; the UI's "X-Grafana-Alerting-Signature" is a placeholder only.
describe('Grafana\'s signature header', () => {
  const signedAt = () => {
    const ts = String(Math.floor(Date.now() / 1000));
    return { ts, signature: signGrafanaPayload(SECRET, payload, ts) };
  };

  it('defaults to Grafana\'s own default, X-Grafana-Alert-Signature, and refuses the placeholder name', async () => {
    const h = await startHarness({ env: { GRAFANA_WEBHOOK_SECRET: SECRET } });
    try {
      const { ts, signature } = signedAt();
      expect((await deliver(h, payload, { 'x-grafana-alerting-timestamp': ts, 'x-grafana-alert-signature': signature })).statusCode).toBe(200);
      const placeholder = await deliver(h, payload, { 'x-grafana-alerting-timestamp': ts, 'x-grafana-alerting-signature': signature });
      expect(placeholder.statusCode).toBe(401);
      expect(placeholder.json.error.message).toBe('missing X-Grafana-Alert-Signature header');
    } finally {
      await h.close();
    }
  });

  it('takes a configured name, as Grafana sends when its Header field is filled in', async () => {
    const h = await startHarness({ env: { GRAFANA_WEBHOOK_SECRET: SECRET }, config: (doc) => (doc.sources.grafana.auth.hmac.header = 'X-My-Signature') });
    try {
      const { ts, signature } = signedAt();
      expect((await deliver(h, payload, { 'x-grafana-alerting-timestamp': ts, 'x-my-signature': signature })).statusCode).toBe(200);
    } finally {
      await h.close();
    }
  });
});

// grafana/alerting receivers/webhook/v1/webhook.go returns `false, err` (do not
// retry) for every failed send: a transient TKE failure answered 5xx is not retried within the flush.
// So for Grafana the function retries TKE longer itself, within its own time.
describe('Grafana: the function\'s own retries are the only quick ones', () => {
  it('makes up to sources.grafana.tkeMaxAttempts (8) attempts on a transient failure, where Alertmanager gets tke.maxAttempts (4)', async () => {
    const h = await startHarness({ env: { GRAFANA_WEBHOOK_SECRET: SECRET, ALERTMANAGER_TOKEN: 'am' }, config: (doc) => {
      doc.tke = { maxAttempts: 4, baseDelayMs: 10, maxDelayMs: 20 };
      doc.throttle = { cooldownSeconds: 0, windowSeconds: 3600, maxNodesPerWindow: 1000 };
    } });
    try {
      h.sandbox.injectFault({ kind: 'error', code: 'InternalError', action: 'CreateClusterInstances', times: 6 });
      const ts = String(Math.floor(Date.now() / 1000));
      const reply = await deliver(h, payload, { 'x-grafana-alerting-timestamp': ts, 'x-grafana-alert-signature': signGrafanaPayload(SECRET, payload, ts) });
      expect(reply.statusCode).toBe(200);
      expect(reply.json.results[0].status).toBe('created');
      expect(h.logLines.at(-1)).toMatchObject({ attempts: 7 });

      h.sandbox.injectFault({ kind: 'error', code: 'InternalError', action: 'CreateClusterInstances', times: 6 });
      const am = await h.invoke({ httpMethod: 'POST', path: '/hooks/alertmanager', headers: { 'content-type': 'application/json', authorization: 'Bearer am' }, body: JSON.stringify(fixture('alertmanager-firing.json')) });
      expect(am.statusCode).toBe(502);
      expect(h.logLines.at(-1)).toMatchObject({ attempts: 4 });
    } finally {
      await h.close();
    }
  });
});

describe('the sample SCF event in events/', () => {
  it('is signed with the dev secret npm start uses over its timestamp and body; stale now, so a live function refuses it', async () => {
    const event = JSON.parse(readFileSync(join(REPO_ROOT, 'events', 'grafana-function-url.json'), 'utf8')) as FunctionUrlEvent & { headers: Record<string, string>; body: string };
    const ts = event.headers['x-grafana-alerting-timestamp']!;
    expect(new Date(Number(ts) * 1000).toISOString()).toBe('2025-11-25T08:00:00.000Z');
    expect(event.headers['x-grafana-alert-signature']).toBe(signGrafanaPayload('dev-token', event.body, ts));
    const h = await startHarness({ env: { GRAFANA_WEBHOOK_SECRET: 'dev-token' } });
    try {
      const reply = await h.invoke(event);
      expect(reply.statusCode).toBe(401);
      expect(reply.json.error.message).toMatch(/X-Grafana-Alerting-Timestamp is \d+ s from now; the window is 300 s/);
      // Signed afresh, the same body scales.
      const now = String(Math.floor(Date.now() / 1000));
      const fresh = { ...event, headers: { ...event.headers, 'x-grafana-alerting-timestamp': now, 'x-grafana-alert-signature': signGrafanaPayload('dev-token', event.body, now) } };
      expect((await h.invoke(fresh)).json.results[0].status).toBe('created');
    } finally {
      await h.close();
    }
  });
});

describe('Grafana sender with a bearer token', () => {
  it('accepts the token and refuses others', async () => {
    const h = await startHarness({ env: { GRAFANA_TOKEN: 't0k' }, config: (doc) => (doc.sources.grafana.auth = { bearer: { tokenEnv: 'GRAFANA_TOKEN' } }) });
    try {
      expect((await deliver(h, payload, { authorization: 'Bearer t0k' })).statusCode).toBe(200);
      expect((await deliver(h, payload, { authorization: 'Bearer t0K' })).statusCode).toBe(401);
    } finally {
      await h.close();
    }
  });

  it('answers 503 naming the env var when the secret is unset', async () => {
    const h = await startHarness();
    try {
      const reply = await deliver(h, payload, { 'x-grafana-alert-signature': signGrafanaPayload(SECRET, payload) });
      expect(reply.statusCode).toBe(503);
      expect(reply.json.error.message).toContain('GRAFANA_WEBHOOK_SECRET');
    } finally {
      await h.close();
    }
  });
});
