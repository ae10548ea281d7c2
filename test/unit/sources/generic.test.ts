import { signGenericPayload } from '../../../src/auth/hmac';
import { createGenericSource } from '../../../src/sources/generic';
import type { ScaleOutRequest } from '../../../src/core/scale-out-request';
import type { Interpretation } from '../../../src/sources/webhook-source';
import type { WebhookRequest } from '../../../src/http/webhook-request';
import { webhookRequest } from '../../support/fixtures';
import { thrownBy } from '../../support/thrown';

const bearer = createGenericSource({ auth: { bearer: { tokenEnv: 'GENERIC_TOKEN' } } }, { GENERIC_TOKEN: 'test-token' });
const NOW = 1_764_000_000_000;

/** The one scale-out a generic delivery asks for. */
function normalize(request: WebhookRequest): ScaleOutRequest {
  const interpretation = bearer.interpret(request, NOW) as Interpretation; // the generic sender answers at once
  if (interpretation.kind !== 'scale-out' || interpretation.requests.length !== 1) throw new Error('expected one scale-out');
  return interpretation.requests[0]!;
}

const failure = (run: () => unknown) => thrownBy(run);

describe('generic source: normalize', () => {
  it('turns the JSON call into a scale-out request', () => {
    const request = normalize(
      webhookRequest({ json: { eventId: 'deploy-42', cluster: 'demo', template: 'small', count: 2, params: { zone: 'ap-guangzhou-3' }, reason: 'load test' } }),
    );
    expect(request).toEqual({
      source: 'generic',
      eventId: 'deploy-42',
      cluster: 'demo',
      template: 'small',
      count: 2,
      params: new Map([['zone', 'ap-guangzhou-3']]),
      reason: 'load test',
    });
  });

  it('takes the event ID from Idempotency-Key, quoted as the IETF draft sends it', () => {
    const request = normalize(
      webhookRequest({ headers: { 'content-type': 'application/json; charset=utf-8', 'idempotency-key': '"8e03978e-40d5"' }, json: { cluster: 'demo', template: 'small' } }),
    );
    expect(request.eventId).toBe('8e03978e-40d5');
    expect(request.count).toBeUndefined();
  });

  it.each([
    ['malformed JSON', { rawBody: Buffer.from('{"eventId": ') }, 400, 'InvalidJson'],
    ['an empty body', { rawBody: Buffer.alloc(0) }, 400, 'EmptyBody'],
    ['a JSON array', { json: [1] }, 400, 'InvalidPayload'],
    ['a wrong content type', { headers: { 'content-type': 'text/plain' }, json: {} }, 415, 'UnsupportedMediaType'],
    ['no content type', { headers: {}, json: {} }, 415, 'UnsupportedMediaType'],
    ['__proto__ at the top', { rawBody: Buffer.from('{"__proto__":{"isAdmin":true},"eventId":"e","cluster":"demo","template":"small"}') }, 400, 'ForbiddenKey'],
    ['constructor inside params', { rawBody: Buffer.from('{"eventId":"e","cluster":"demo","template":"small","params":{"constructor":{"prototype":{}}}}') }, 400, 'ForbiddenKey'],
    ['a missing cluster', { json: { eventId: 'e', template: 'small' } }, 400, 'InvalidPayload'],
    ['a string count', { json: { eventId: 'e', cluster: 'demo', template: 'small', count: '2' } }, 400, 'InvalidPayload'],
    ['a fractional count', { json: { eventId: 'e', cluster: 'demo', template: 'small', count: 1.5 } }, 400, 'InvalidPayload'],
    ['an object param value', { json: { eventId: 'e', cluster: 'demo', template: 'small', params: { zone: { a: 1 } } } }, 400, 'InvalidPayload'],
    ['an unknown field', { json: { eventId: 'e', cluster: 'demo', template: 'small', nodes: 3 } }, 400, 'InvalidPayload'],
    ['no event ID at all', { json: { cluster: 'demo', template: 'small' } }, 400, 'MissingEventId'],
    ['a 10 KB event ID', { json: { eventId: 'x'.repeat(10 * 1024), cluster: 'demo', template: 'small' } }, 400, 'InvalidEventId'],
    ['a non-ASCII event ID', { json: { eventId: 'événement-1', cluster: 'demo', template: 'small' } }, 400, 'InvalidEventId'],
    ['an event ID with a space', { json: { eventId: 'a b', cluster: 'demo', template: 'small' } }, 400, 'InvalidEventId'],
    ['an empty event ID', { json: { eventId: '', cluster: 'demo', template: 'small' } }, 400, 'InvalidEventId'],
    ['an event ID that contradicts Idempotency-Key', { headers: { 'content-type': 'application/json', 'idempotency-key': 'b' }, json: { eventId: 'a', cluster: 'demo', template: 'small' } }, 400, 'EventIdMismatch'],
  ])('refuses %s with a precise 4xx', (_name, overrides, status, code) => {
    const error = failure(() => normalize(webhookRequest(overrides)));
    expect(error.status).toBe(status);
    expect(error.code).toBe(code);
  });

  it('names the field at fault', () => {
    expect(failure(() => normalize(webhookRequest({ json: { eventId: 'e', template: 'small' } }))).message).toBe(
      'cluster: is required: a cluster alias or ClusterId from the config',
    );
    expect(failure(() => normalize(webhookRequest({ json: { eventId: 'e', cluster: 'demo', template: 'small', count: 1.5 } }))).message).toBe(
      'count: must be a whole number',
    );
    expect(failure(() => normalize(webhookRequest({ json: { eventId: 'é', cluster: 'demo', template: 'small' } }))).message).toBe(
      'eventId: must be 1 to 128 printable ASCII characters without spaces',
    );
    expect(failure(() => normalize(webhookRequest({ json: { eventId: 'e', cluster: 'demo', template: 'small', nodes: 3 } }))).message).toContain('nodes: unknown field');
  });
});

describe('generic source: authenticate', () => {
  it('accepts the configured bearer token and refuses others', () => {
    expect(() => bearer.authenticate(webhookRequest(), NOW)).not.toThrow();
    expect(failure(() => bearer.authenticate(webhookRequest({ headers: { authorization: 'Bearer nope' } }), NOW)).status).toBe(401);
    expect(failure(() => bearer.authenticate(webhookRequest({ headers: {} }), NOW)).status).toBe(401);
  });

  it('answers 503 naming the env var when the secret is not set', () => {
    const unset = createGenericSource({ auth: { bearer: { tokenEnv: 'GENERIC_TOKEN' } } }, {});
    const error = failure(() => unset.authenticate(webhookRequest(), NOW));
    expect(error.status).toBe(503);
    expect(error.message).toBe('sender generic is not ready: its secret env var GENERIC_TOKEN is not set');
  });

  it('verifies the HMAC scheme when configured', () => {
    const hmac = createGenericSource({ auth: { hmac: { secretEnv: 'GENERIC_SECRET', toleranceSeconds: 300 } } }, { GENERIC_SECRET: 'k' });
    const rawBody = Buffer.from('{"eventId":"e","cluster":"demo","template":"small"}');
    const ts = String(NOW / 1000);
    const headers = { 'content-type': 'application/json', 'x-scaleout-timestamp': ts, 'x-scaleout-signature': signGenericPayload('k', ts, rawBody) };
    expect(() => hmac.authenticate(webhookRequest({ headers, rawBody }), NOW)).not.toThrow();
    expect(failure(() => hmac.authenticate(webhookRequest({ headers, rawBody: Buffer.from(`${rawBody.toString()} `) }), NOW)).status).toBe(401);
  });

  it('lets everything through only with auth: none', () => {
    const open = createGenericSource({ auth: 'none' }, {});
    expect(() => open.authenticate(webhookRequest({ headers: {} }), NOW)).not.toThrow();
  });
});
