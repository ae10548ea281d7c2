import { isApiGatewayEvent, toScfResponse, toWebhookRequest } from '../../../src/scf/event';
import { BadRequestError, PayloadTooLargeError } from '../../../src/errors';
import { routeOf } from '../../../src/http/routes';
import { errorAnswer } from '../../../src/http/error-response';
import { EventInFlightError, MethodNotAllowedError, ScaleOutError, TkeCallError } from '../../../src/errors';

const LIMIT = 1024;

describe('toWebhookRequest', () => {
  it('reads a Function URL event', () => {
    const request = toWebhookRequest(
      {
        httpMethod: 'post',
        path: '/hooks/generic',
        headers: { 'content-type': 'application/json', 'x-scf-remote-addr': '203.0.113.9' },
        queryString: { token: 'abc' },
        body: '{"a":1}',
      },
      LIMIT,
    );
    expect(request).toEqual({
      method: 'POST',
      path: '/hooks/generic',
      headers: { 'content-type': 'application/json', 'x-scf-remote-addr': '203.0.113.9' },
      query: { token: 'abc' },
      rawBody: Buffer.from('{"a":1}'),
      sourceIp: '203.0.113.9',
    });
  });

  it('reads an API Gateway event: mixed-case headers, base64 body, every queryString form', () => {
    const event = {
      requestContext: { serviceId: 'service-x', path: '/hooks', httpMethod: 'POST', requestId: 'r-1', sourceIp: '198.51.100.7', stage: 'release' },
      httpMethod: 'POST',
      path: '/release/hooks/generic',
      headers: { 'Content-Type': 'application/json', Authorization: 'Bearer t' },
      queryString: { one: 'a', many: ['b', 'c'], flag: true },
      queryStringParameters: { one: 'a' },
      body: Buffer.from('{"b":2}').toString('base64'),
      isBase64Encoded: true,
    };
    expect(isApiGatewayEvent(event)).toBe(true);
    const request = toWebhookRequest(event, LIMIT);
    expect(request.headers).toEqual({ 'content-type': 'application/json', authorization: 'Bearer t' });
    expect(request.query).toEqual({ one: 'a', many: 'b', flag: '' });
    expect(request.rawBody.toString()).toBe('{"b":2}');
    expect(request.sourceIp).toBe('198.51.100.7');
  });

  it.each([
    ['not an object', 'hello', BadRequestError],
    ['no httpMethod', { path: '/hooks/generic' }, BadRequestError],
    ['a timer event', { Type: 'Timer', TriggerName: 't', Time: '2026-11-25T00:00:00Z' }, BadRequestError],
    ['bad base64', { httpMethod: 'POST', path: '/', body: '***', isBase64Encoded: true }, BadRequestError],
    ['a body over the limit', { httpMethod: 'POST', path: '/', body: 'x'.repeat(LIMIT + 10) }, PayloadTooLargeError],
    ['a base64 body over the limit', { httpMethod: 'POST', path: '/', body: Buffer.alloc(LIMIT * 2).toString('base64'), isBase64Encoded: true }, PayloadTooLargeError],
  ])('refuses %s as a 4xx', (_name, event, errorClass) => {
    expect(() => toWebhookRequest(event, LIMIT)).toThrow(errorClass);
  });

  it('answers in the integration response shape', () => {
    expect(toScfResponse({ status: 201, headers: { 'retry-after': '5' }, body: { ok: true } })).toEqual({
      isBase64Encoded: false,
      statusCode: 201,
      headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'retry-after': '5' },
      body: '{"ok":true}',
    });
  });
});

describe('routeOf', () => {
  it.each([
    ['/hooks/generic', 'generic'],
    ['/release/hooks/generic', 'generic'],
    ['/some/prefix/hooks/alertmanager/', 'alertmanager'],
  ])('routes POST %s to the %s sender', (path, source) => {
    expect(routeOf('POST', path)).toEqual({ kind: 'hook', source });
  });

  it('routes health probes with any prefix', () => {
    expect(routeOf('GET', '/release/healthz')).toEqual({ kind: 'healthz' });
    expect(routeOf('HEAD', '/healthz')).toEqual({ kind: 'healthz' });
  });

  it('refuses other methods with 405 and unknown paths with 404', () => {
    expect(() => routeOf('GET', '/hooks/generic')).toThrow(MethodNotAllowedError);
    expect(() => routeOf('POST', '/healthz')).toThrow(MethodNotAllowedError);
    expect(() => routeOf('POST', '/hooks')).toThrow(expect.objectContaining({ status: 404 }));
    expect(() => routeOf('POST', '/hooks/a/b')).toThrow(expect.objectContaining({ status: 404 }));
  });
});

describe('errorAnswer: the one error-to-HTTP mapping', () => {
  it('gives a 4xx its message and code', () => {
    expect(errorAnswer(new BadRequestError('InvalidJson', 'body is not valid JSON'))).toEqual({
      status: 400,
      headers: {},
      body: { error: { code: 'InvalidJson', message: 'body is not valid JSON' } },
    });
  });

  it('sets Retry-After and Allow', () => {
    expect(errorAnswer(new EventInFlightError('e', 7)).headers).toEqual({ 'retry-after': '7' });
    expect(errorAnswer(new MethodNotAllowedError('GET', ['POST'])).headers).toEqual({ allow: 'POST' });
  });

  it("carries TKE's code, message and RequestId", () => {
    const reply = errorAnswer(new TkeCallError(409, 'FailedOperation.QuotaMaxNodLimit', 'quota', { requestId: 'r-9', attempts: 1, outcomeUnknown: false }));
    expect(reply).toMatchObject({ status: 409, body: { error: { code: 'FailedOperation.QuotaMaxNodLimit', message: 'quota', requestId: 'r-9', attempts: 1 } } });
  });

  it("answers middy's timeout guard with 504", () => {
    const timeout = Object.assign(new Error('[AbortError]: The operation was aborted.'), { name: 'TimeoutError' });
    expect(errorAnswer(timeout)).toMatchObject({ status: 504, body: { error: { code: 'FunctionTimeout' } } });
  });

  it('hides the message of an unexposed 5xx and of any bug', () => {
    const internal = errorAnswer(new ScaleOutError(503, 'StoreDown', 'redis at 10.0.0.5:6379 refused'));
    expect(JSON.stringify(internal.body)).not.toContain('10.0.0.5');
    const bug = errorAnswer(new TypeError('cannot read x of undefined at /var/user/index.js:1'));
    expect(bug).toEqual({ status: 500, body: { error: { code: 'InternalError', message: 'the function failed; see its log' } } });
  });
});
