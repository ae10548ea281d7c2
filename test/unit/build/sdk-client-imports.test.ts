/**
 * build/bundle.mjs gives the SDK's generated clients only what they take from tslib and the common
 * package (`sdkClientImportsNarrowed`): `__importStar` and `AbstractClient`. If an SDK upgrade makes
 * a client use another name, this says so before a bundle fails at cold start.
 */
import { readFileSync } from 'node:fs';

const CLIENTS = [
  'tencentcloud-sdk-nodejs-tke/tencentcloud/services/tke/v20180525/tke_client.js',
  'tencentcloud-sdk-nodejs-cvm/tencentcloud/services/cvm/v20170312/cvm_client.js',
  'tencentcloud-sdk-nodejs-scf/tencentcloud/services/scf/v20180416/scf_client.js',
];

describe.each(CLIENTS)('%s', (client) => {
  const source = readFileSync(require.resolve(client), 'utf8');
  /** The names the client reads off the module it bound to `binding`. */
  const namesOf = (binding: string) => new Set([...source.matchAll(new RegExp(`\\b${binding}\\.(\\w+)`, 'g'))].map((m) => m[1]));

  it('takes __importStar from tslib, and nothing else', () => {
    expect(source).toMatch(/const tslib_1 = require\("tslib"\);/);
    expect(namesOf('tslib_1')).toEqual(new Set(['__importStar']));
  });

  it('takes AbstractClient from the common package, and nothing else', () => {
    expect(source).toMatch(/const TencentCloudCommon = tslib_1\.__importStar\(require\("tencentcloud-sdk-nodejs-common"\)\);/);
    expect(namesOf('TencentCloudCommon')).toEqual(new Set(['AbstractClient']));
  });

  it('requires nothing else', () => {
    expect([...source.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]).sort()).toEqual(['tencentcloud-sdk-nodejs-common', 'tslib']);
  });
});
