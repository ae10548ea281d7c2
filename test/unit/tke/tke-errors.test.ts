import { CAPACITY_CODES, capacityCodeOf, TKE_ERROR_VERDICTS, verdictForHttpStatus, verdictForTkeCode } from '../../../src/tke/tke-errors';
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

/**
 * Which refusals mean "CVM is sold out" and move the ladder to its next rung. The codes
 * are CVM RunInstances' (tencentcloud-sdk-go cvm/v20170312/errors.go: 该可用区已售罄, 指定的实例类型
 * 库存不足, 指定的实例类型在选择的可用区已售罄, 指定的云盘规格已售罄, 公网IP已售罄, ...); the first is
 * also in TKE's own table (the seed). TKE passes other CVM refusals on as FailedOperation.CvmCommon /
 * InternalError.CvmCommon ("cvm创建节点报错"); no document shows the message's wording, so the code
 * is looked for as a whole word in it.
 */
describe('capacityCodeOf', () => {
  it.each(CAPACITY_CODES)('%s as TKE\'s own code is a sold-out', (code) => {
    expect(capacityCodeOf(code, 'whatever')).toBe(code);
  });

  it.each([
    ['FailedOperation.CvmCommon', 'CVM RunInstances failed: [ResourcesSoldOut.AvailableZone] 该可用区已售罄', 'ResourcesSoldOut.AvailableZone'],
    ['InternalError.CvmCommon', 'cvm error code=ResourceInsufficient.ZoneSoldOutForSpecifiedInstance, msg=指定的实例类型在选择的可用区已售罄', 'ResourceInsufficient.ZoneSoldOutForSpecifiedInstance'],
  ])('%s carrying CVM\'s sold-out code in its message is a sold-out', (code, message, expected) => {
    expect(capacityCodeOf(code, message)).toBe(expected);
  });

  it.each([
    ['a quota, not stock', 'LimitExceeded.InstanceQuota', 'quota'],
    ['a spread placement group quota', 'ResourceInsufficient.DisasterRecoverGroupCvmQuota', ''],
    ['a type the zone does not sell (a config mistake, not stock)', 'ResourceUnavailable.InstanceType', ''],
    ['CvmCommon for another reason', 'FailedOperation.CvmCommon', 'CVM RunInstances failed: [InvalidParameterValue] bad image'],
    ['a longer code that merely starts like one', 'FailedOperation.CvmCommon', 'CVM: ResourcesSoldOut.AvailableZoneX'],
    ['a sold-out code named by another TKE code', 'InvalidParameter', 'ResourcesSoldOut.AvailableZone'],
  ])('not a sold-out: %s', (_name, code, message) => {
    expect(capacityCodeOf(code, message)).toBeUndefined();
  });

  it('looks at a long message in linear time (one indexOf scan per code)', () => {
    const message = `${'ResourcesSoldOut.AvailableZoneX '.repeat(50_000)}`;
    expect(capacityCodeOf('FailedOperation.CvmCommon', message)).toBeUndefined();
  });

  it('sold-out codes are never retried within the call: the ladder moves on instead', () => {
    for (const code of CAPACITY_CODES) expect(verdictForTkeCode(code).retry).toBe(false);
  });
});
