import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PRICE_INQUIRY_KEYS } from '../../../src/core/price';
import { RUN_INSTANCE_PARA_KEYS } from '../../../src/tke/tke-params';
import { REPO_ROOT } from '../../support/fixtures';

/**
 * The RunInstancePara keys a template may use are CVM RunInstances' own. The
 * source of truth is the official CVM SDK's model, tencentcloud-sdk-nodejs-cvm
 * (tencentcloud/services/cvm/v20170312/cvm_models.d.ts, `interface RunInstancesRequest`), a dev
 * dependency: updating it and running this test shows what CVM added or removed. (Before: the
 * current parameters NetworkInterfaces and PartitionNumber were refused.)
 */
function runInstancesRequestFields(model = 'RunInstancesRequest'): string[] {
  const models = readFileSync(join(REPO_ROOT, 'node_modules', 'tencentcloud-sdk-nodejs-cvm', 'tencentcloud', 'services', 'cvm', 'v20170312', 'cvm_models.d.ts'), 'utf8');
  const start = models.indexOf(`export interface ${model} {`);
  expect(start).toBeGreaterThan(0);
  const body = models.slice(start, models.indexOf('\n}', start));
  return [...body.matchAll(/^ {4}([A-Za-z0-9]+)\??:/gm)].map((m) => m[1]!);
}

describe('RunInstancePara keys', () => {
  it('are exactly the fields of the CVM SDK\'s RunInstancesRequest', () => {
    const fields = runInstancesRequestFields();
    expect(fields.length).toBeGreaterThan(30);
    expect([...RUN_INSTANCE_PARA_KEYS].sort()).toEqual([...fields].sort());
  });

  it('include the parameters that were missing', () => {
    expect(RUN_INSTANCE_PARA_KEYS).toEqual(expect.arrayContaining(['NetworkInterfaces', 'PartitionNumber']));
  });
});

describe('what a money budget prices', () => {
  // InquiryPriceRunInstances takes fewer keys than RunInstances (no MinCount, UserData,
  // DryRun, ...); the function sends it only those, and never the purchase's ClientToken.
  it('is exactly the CVM SDK\'s InquiryPriceRunInstancesRequest, less the ClientToken', () => {
    const fields = runInstancesRequestFields('InquiryPriceRunInstancesRequest');
    expect(fields.length).toBeGreaterThan(15);
    expect([...PRICE_INQUIRY_KEYS, 'ClientToken'].sort()).toEqual([...fields].sort());
  });
});
