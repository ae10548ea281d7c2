/**
 * build/shims/json-bigint-*.js stand in for bignumber.js and json-bigint's parser in the bundle
 * (build/bundle.mjs): the SDK's request bodies and signed payloads, stringified by json-bigint, must
 * be the same bytes with them as with the real modules.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import RealBigNumber from 'bignumber.js';
import seedExample2 from '../../fixtures/seed-example-2.json';

/* eslint-disable @typescript-eslint/no-require-imports */
const shimmedBigNumber = require('../../../build/shims/json-bigint-bignumber.js') as { isBigNumber(v: unknown): boolean };
const shimmedParse = require('../../../build/shims/json-bigint-parse.js') as (options?: object) => (text: string) => unknown;

type Stringify = (value: unknown) => string;
const realStringify = (require('json-bigint') as (options: object) => { stringify: Stringify })({ useNativeBigInt: true }).stringify;
/** json-bigint's stringify as bundled: its `require('bignumber.js')` is the shim. */
function shimmedStringify(): Stringify {
  let stringify: Stringify | undefined;
  jest.isolateModules(() => {
    jest.doMock('bignumber.js', () => shimmedBigNumber);
    stringify = (require('json-bigint/lib/stringify.js') as { stringify: Stringify }).stringify;
  });
  return stringify!;
}
/* eslint-enable @typescript-eslint/no-require-imports */

describe('json-bigint as bundled (build/shims)', () => {
  const values: unknown[] = [
    undefined, null, 0, 1, -1.5, NaN, Infinity, '', 'text', true, false, 10n ** 30n, [], {}, [1, 'a', null],
    { _isBigNumber: true, toString: () => '1' }, { _isBigNumber: 'true' }, new RealBigNumber('123456789012345678901234567890.5'),
  ];

  it.each(values.map((value) => [String(value), value]))('answers as bignumber.js does whether %s is a BigNumber', (_name, value) => {
    expect(shimmedBigNumber.isBigNumber(value)).toBe(RealBigNumber.isBigNumber(value));
  });

  it('stringifies what the SDK sends to the same bytes', () => {
    const stringify = shimmedStringify();
    const body = { ...seedExample2, Nested: { big: 12345678901234567890n, list: [1, 2.5, 'x', null, true], when: new Date(0) } };
    expect(stringify(body)).toBe(realStringify(body));
    // Even a real BigNumber (which the function never makes) comes out the same.
    const withBigNumber = { amount: new RealBigNumber('123456789012345678901234567890.5') };
    expect(stringify(withBigNumber)).toBe(realStringify(withBigNumber));
  });

  it('is only ever asked to stringify by the SDK', () => {
    // The SDK's modules that use json-bigint: none parses with it (the parse shim would throw).
    const common = join(dirname(require.resolve('tencentcloud-sdk-nodejs-common/package.json')), 'es');
    const users = readdirSync(common, { recursive: true, encoding: 'utf8' })
      .filter((file) => file.endsWith('.js'))
      .map((file) => readFileSync(join(common, file), 'utf8'))
      .filter((source) => source.includes('json-bigint'));
    expect(users.length).toBeGreaterThan(0);
    for (const source of users) {
      expect(source).toMatch(/JSONbig\w*\.stringify\(/);
      expect(source).not.toMatch(/\.parse\(/);
    }
  });

  it('refuses loudly what the function never does', () => {
    expect(() => new (shimmedBigNumber as unknown as new (v: string) => unknown)('1')).toThrow(/not supported in this bundle/);
    expect(() => shimmedParse({ useNativeBigInt: true })('{"a":1}')).toThrow(/not supported in this bundle/);
  });
});
