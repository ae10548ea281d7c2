import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROLE_TKE_ACTIONS } from '../../../deploy/follow-timer';
import { REPO_ROOT } from '../../support/fixtures';

/**
 * docs/DEPLOY.md's policy for the execution role grants every TKE action the function calls
 * (ROLE_TKE_ACTIONS, which `npm run deploy -- --help` lists too), on cluster resources in CAM's
 * format, the pass that follows what it bought included (DescribeClusterInstances,
 * DeleteClusterInstances).
 */
interface Statement {
  effect: string;
  action: string[];
  resource: string[];
}

const deployMd = readFileSync(join(REPO_ROOT, 'docs', 'DEPLOY.md'), 'utf8');

function policyIn(markdown: string): { version: string; statement: Statement[] } {
  const block = /```json\n([\s\S]*?)```/.exec(markdown);
  expect(block).not.toBeNull();
  return JSON.parse(block![1]!) as { version: string; statement: Statement[] };
}

describe("docs/DEPLOY.md's policy for the execution role", () => {
  const policy = policyIn(deployMd);

  it('grants every TKE action the function calls, in one statement on the clusters', () => {
    const tke = policy.statement.filter((s) => s.action.some((a) => a.startsWith('tke:')));
    expect(tke).toHaveLength(1);
    expect(tke[0]!.effect).toBe('allow');
    expect([...tke[0]!.action].sort()).toEqual([...ROLE_TKE_ACTIONS].sort());
    expect(ROLE_TKE_ACTIONS).toEqual(expect.arrayContaining(['tke:DescribeClusterInstances', 'tke:DeleteClusterInstances']));
    for (const resource of tke[0]!.resource) expect(resource).toMatch(/^qcs::tke:[a-z]+-[a-z]+(-[a-z0-9]+)*:uin\/<your uin>:cluster\/cls-[a-z0-9]+$/);
  });

  it('says why the follow pass needs its two', () => {
    expect(deployMd).toMatch(/`tke:DescribeClusterInstances`[^]*`tke:DeleteClusterInstances`/);
    expect(deployMd).toContain('scaleout-follow');
  });
});
