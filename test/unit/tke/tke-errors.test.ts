import { TKE_ERROR_VERDICTS, verdictForHttpStatus, verdictForTkeCode } from '../../../src/tke/tke-errors';
import { fixture } from '../../support/fixtures';

const seedCodes = fixture<{ codes: string[] }>('seed-error-codes.json').codes;

describe('TKE error verdicts', () => {
  it('classify every error code of the seed explicitly', () => {
    expect(seedCodes).toHaveLength(41);
    const missing = seedCodes.filter((code) => !Object.hasOwn(TKE_ERROR_VERDICTS, code));
    expect(missing).toEqual([]);
  });

  it.each(seedCodes)('%s: a 4xx never asks for a retry, a retried code is a 5xx', (code) => {
    const verdict = verdictForTkeCode(code);
    expect([409, 422, 502, 503]).toContain(verdict.status);
    if (verdict.retry) expect(verdict.status).toBeGreaterThanOrEqual(500);
  });

  it.each([
    ['FailedOperation.ClusterNotFound', 422, false],
    ['InternalError.ImageIdNotFound', 422, false],
    ['FailedOperation.QuotaMaxNodLimit', 409, false],
    ['InternalError', 502, true],
    ['InternalError.UnexpectedInternal', 502, true],
    ['ResourceInsufficient.SpecifiedInstanceType', 503, false],
    ['RequestLimitExceeded', 503, true],
    ['RequestLimitExceeded.UinLimitExceeded', 503, true],
    ['AuthFailure.SignatureFailure', 502, false],
    ['AuthFailure.SecretIdNotFound', 502, false],
    ['UnauthorizedOperation', 502, false],
    ['InternalError.SomethingNew', 502, true],
    ['InvalidParameterValue.Whatever', 422, false],
    ['TotallyUnknown', 502, false],
  ])('%s → HTTP %i, retried by us: %s', (code, status, retry) => {
    expect(verdictForTkeCode(code)).toMatchObject({ status, retry });
  });

  it('treat endpoint errors by class', () => {
    expect(verdictForHttpStatus(502)).toMatchObject({ status: 502, retry: true });
    expect(verdictForHttpStatus(429)).toMatchObject({ status: 503, retry: true });
    expect(verdictForHttpStatus(403)).toMatchObject({ status: 502, retry: false });
  });

  it('ignore prototype names', () => {
    expect(verdictForTkeCode('constructor')).toMatchObject({ status: 502, retry: false });
  });
});
