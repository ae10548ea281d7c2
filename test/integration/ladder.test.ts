import { DEFAULT_SANDBOX_PRICES } from '../../dev/sandbox/tke-sandbox';
import { RELAXED_THROTTLE, withNodeBudget } from '../support/fixtures';
import { HEALTH_TOKEN, startHarness, type Harness } from '../support/harness';

/**
 * The fallback ladder and the money budget through the real handler, the official SDKs
 * and the sandbox: its CVM stock runs out like CVM's (the seed's ResourceInsufficient.SpecifiedInstanceType
 * for an instance type; FailedOperation.CvmCommon carrying CVM's ResourcesSoldOut.AvailableZone for a
 * zone), and it prices requests with InquiryPriceRunInstances in the shape of the CVM SDK's models.
 *
 * The example's `burst` template (config/example.yaml) on `demo-sh` (budget: 12 CNY/h, 2000 CNY
 * prepaid, per day) has four rungs:
 *   1 S5.MEDIUM4 spot in ap-shanghai-2   2 the same in ap-shanghai-4
 *   3 S5.MEDIUM4 pay-as-you-go in ap-shanghai-2   4 SA2.MEDIUM4 pay-as-you-go in ap-shanghai-4
 */
const burst = (eventId: string, extra: Record<string, unknown> = {}) => ({ eventId, cluster: 'demo-sh', template: 'burst', ...extra });
const paraOf = (call: { params: Record<string, unknown> }) => JSON.parse(call.params.RunInstancePara as string) as { ClientToken: string; InstanceCount: number; InstanceType: string; InstanceChargeType: string; Placement: { Zone: string }; InstanceMarketOptions?: unknown };

let h: Harness;
afterEach(async () => h?.close());

const creates = () => h.sandbox.calls.filter((c) => c.action === 'CreateClusterInstances');
const inquiries = () => h.sandbox.calls.filter((c) => c.action === 'InquiryPriceRunInstances');

describe('the fallback ladder', () => {
  it('sold out on rung 1 (known to the price inquiry, with the cluster\'s money budget): bought on rung 2 at once; the answer and the log line say so', async () => {
    h = await startHarness();
    h.sandbox.setStock({ 'ap-shanghai-2/S5.MEDIUM4': 0 });
    const reply = await h.postGeneric(burst('sold-out-1'));
    expect(reply.statusCode).toBe(200);
    expect(reply.json).toMatchObject({
      status: 'created',
      count: 2,
      bought: { rung: 2, zone: 'ap-shanghai-4', instanceType: 'S5.MEDIUM4', chargeType: 'SPOTPAID', outcome: 'bought', price: { amount: 0.16, kind: 'hourly', currency: 'CNY' } },
      skipped: [{ rung: 1, zone: 'ap-shanghai-2', outcome: 'sold-out', code: 'ResourcesSoldOut.SpecifiedInstanceType' }],
    });
    // CVM's price inquiry answered rung 1 sold out: it never reached TKE.
    expect(inquiries()[0]!.errorCode).toBe('ResourcesSoldOut.SpecifiedInstanceType');
    const [bought] = creates();
    expect(creates()).toHaveLength(1);
    expect(bought!.instanceIds).toHaveLength(2);
    expect(paraOf(bought!).ClientToken).toBe(reply.json.clientToken);
    expect(paraOf(bought!)).toMatchObject({ Placement: { Zone: 'ap-shanghai-4' }, InstanceChargeType: 'SPOTPAID' });
    expect(h.logLines.find((l) => l.msg === 'scale-out decision')).toMatchObject({
      outcome: 'created',
      ladder: [
        { rung: 1, outcome: 'sold-out', code: 'ResourcesSoldOut.SpecifiedInstanceType' },
        { rung: 2, outcome: 'bought', price: { amount: 0.16 } },
      ],
    });
    // The redelivery replays; nothing more is bought.
    expect((await h.postGeneric(burst('sold-out-1'))).json).toMatchObject({ status: 'replayed', bought: { rung: 2 } });
    expect(creates()).toHaveLength(1);
  });

  it('sold out on rung 1 as TKE answers it (no money budget, so no price inquiry): bought on rung 2 with another ClientToken', async () => {
    h = await startHarness({ config: (doc) => ((doc.throttle = RELAXED_THROTTLE), delete doc.clusters['demo-sh'].costBudget) });
    h.sandbox.setStock({ 'ap-shanghai-2/S5.MEDIUM4': 0 });
    const reply = await h.postGeneric(burst('sold-out-tke'));
    expect(reply.json).toMatchObject({ status: 'created', bought: { rung: 2 }, skipped: [{ rung: 1, outcome: 'sold-out', code: 'ResourceInsufficient.SpecifiedInstanceType' }] });
    const [first, second] = creates();
    expect(first!.errorCode).toBe('ResourceInsufficient.SpecifiedInstanceType');
    expect(paraOf(first!).ClientToken).not.toBe(paraOf(second!).ClientToken);
    expect(inquiries()).toHaveLength(0);
  });

  it('a zone sold out as TKE passes it on (FailedOperation.CvmCommon naming ResourcesSoldOut.AvailableZone) also moves on', async () => {
    // Without a money budget: no price inquiry tells first.
    h = await startHarness({ config: (doc) => ((doc.throttle = RELAXED_THROTTLE), delete doc.clusters['demo-sh'].costBudget) });
    // Zone 2 sold out for every type; S5.MEDIUM4 sold out in zone 4; SA2.MEDIUM4 in zone 4 in stock.
    h.sandbox.setStock({ 'ap-shanghai-2': 0, 'ap-shanghai-4/S5.MEDIUM4': 0, 'ap-shanghai-4/SA2.MEDIUM4': 5 });
    const reply = await h.postGeneric(burst('zone-sold-out'));
    expect(reply.json).toMatchObject({ status: 'created', bought: { rung: 4, instanceType: 'SA2.MEDIUM4', zone: 'ap-shanghai-4', chargeType: 'POSTPAID_BY_HOUR' } });
    expect(reply.json.skipped.map((s: { rung: number; code: string }) => [s.rung, s.code])).toEqual([
      [1, 'ResourcesSoldOut.AvailableZone'],
      [2, 'ResourceInsufficient.SpecifiedInstanceType'],
      [3, 'ResourcesSoldOut.AvailableZone'],
    ]);
    expect(creates().map((c) => c.errorCode)).toEqual(['FailedOperation.CvmCommon', 'ResourceInsufficient.SpecifiedInstanceType', 'FailedOperation.CvmCommon', undefined]);
    // The pay-as-you-go rung carries no spot options (the ladder sets InstanceMarketOptions to null).
    expect(paraOf(creates()[3]!).InstanceMarketOptions).toBeUndefined();
    expect(h.sandbox.stockLeft()['ap-shanghai-4/SA2.MEDIUM4']).toBe(3);
    // Four rungs, four tokens.
    expect(new Set(creates().map((c) => paraOf(c).ClientToken)).size).toBe(4);
  });

  it('every rung sold out: 503 SoldOut with Retry-After, nothing bought, the node budget given back', async () => {
    let clock = Date.now();
    h = await startHarness({ now: () => clock, config: (doc) => withNodeBudget(doc, { ...RELAXED_THROTTLE, maxNodesPerWindow: 4 }) });
    h.sandbox.setStock({ 'ap-shanghai-2': 0, 'ap-shanghai-4': 0 });
    const reply = await h.postGeneric(burst('all-gone'));
    expect(reply.statusCode).toBe(503);
    expect(reply.json.error).toMatchObject({ code: 'SoldOut' });
    expect(reply.json.error.message).toContain('S5.MEDIUM4 in ap-shanghai-2 (SPOTPAID)');
    expect(Number(reply.headers['retry-after'])).toBeGreaterThan(800);
    expect(creates().filter((c) => c.instanceIds !== undefined)).toHaveLength(0);
    // Sold out recently: the next event calls nothing at all until the marks expire or stock returns.
    h.sandbox.calls.length = 0;
    expect((await h.postGeneric(burst('all-gone-2'))).json.error.code).toBe('SoldOut');
    expect(creates()).toHaveLength(0);
    // Once the marks expire and stock is back, the whole node budget (4) is there: nothing was kept.
    clock += 901_000;
    h.sandbox.setStock({ 'ap-shanghai-2': -1, 'ap-shanghai-4': -1 });
    expect((await h.postGeneric(burst('after-1'))).json.status).toBe('created');
    expect((await h.postGeneric(burst('after-2'))).json.status).toBe('created');
  });

  it('a template without a ladder, sold out: TKE\'s 503 when it says so itself; SoldOut 503 (not CvmCommon\'s 502) when CVM\'s code is inside CvmCommon', async () => {
    h = await startHarness();
    h.sandbox.setStock({ 'ap-guangzhou-4/S3.SMALL1': 0 });
    const typeGone = await h.postGeneric({ eventId: 'small-1', cluster: 'demo', template: 'small' });
    expect(typeGone.statusCode).toBe(503);
    expect(typeGone.json.error.code).toBe('ResourceInsufficient.SpecifiedInstanceType');
    expect(typeGone.headers['retry-after']).toBe('300');
    h.sandbox.setStock({ 'ap-guangzhou-4/S3.SMALL1': -1, 'ap-guangzhou-3': 0 });
    const zoneGone = await h.postGeneric({ eventId: 'small-2', cluster: 'demo', template: 'small', params: { zone: 'ap-guangzhou-3' } });
    expect(zoneGone.statusCode).toBe(503);
    expect(zoneGone.json.error).toMatchObject({ code: 'SoldOut', message: expect.stringContaining('every rung of the ladder: rung 1 S3.SMALL1 in ap-guangzhou-3 (POSTPAID_BY_HOUR): sold out (ResourcesSoldOut.AvailableZone)') });
    expect(Number(zoneGone.headers['retry-after'])).toBeGreaterThan(800);
  });

  it('an unknown outcome on rung 1: the redelivery stays on rung 1 with the same token, even once rung 1 is sold out', async () => {
    h = await startHarness({ config: (doc) => { doc.throttle = RELAXED_THROTTLE; doc.tke = { maxAttempts: 2, baseDelayMs: 10, maxDelayMs: 20, attemptTimeoutMs: 300 }; } });
    // Rung 1 gets no answer at all (both attempts dropped): TKE may have bought.
    h.sandbox.injectFault({ kind: 'drop', action: 'CreateClusterInstances', times: 2 });
    const lost = await h.postGeneric(burst('lost-1'));
    expect(lost.statusCode).toBeGreaterThanOrEqual(500);
    expect(lost.json.error).toMatchObject({ outcome: 'unknown' });
    // Now rung 1 is sold out. Moving to rung 2 could buy twice; the redelivery re-sends rung 1.
    h.sandbox.setStock({ 'ap-shanghai-2/S5.MEDIUM4': 0 });
    const again = await h.postGeneric(burst('lost-1'));
    expect(again.json.error).toMatchObject({ code: 'ResourceInsufficient.SpecifiedInstanceType' });
    const tokens = creates().map((c) => paraOf(c).ClientToken);
    expect(tokens.length).toBeGreaterThanOrEqual(1);
    expect(new Set(tokens).size).toBe(1);
    expect(creates().every((c) => paraOf(c).Placement.Zone === 'ap-shanghai-2')).toBe(true);
    // With stock back, the redelivery completes on rung 1, still one token.
    h.sandbox.setStock({ 'ap-shanghai-2/S5.MEDIUM4': -1 });
    const done = await h.postGeneric(burst('lost-1'));
    expect(done.json).toMatchObject({ status: 'created', clientToken: tokens[0] });
    expect(h.sandbox.createdCalls).toHaveLength(1);
  });
});

/** What the sandbox's price table says a created call costs an hour (the sum the budget must bound). */
function hourlyOf(para: ReturnType<typeof paraOf>): number {
  const price = DEFAULT_SANDBOX_PRICES[para.InstanceType]!.hourly * para.InstanceCount;
  return para.InstanceChargeType === 'SPOTPAID' ? price / 5 : price;
}

describe('the money budget', () => {
  it('500 distinct events: the run-rate bought stays within the budget; the rest are throttled by cost-budget with Retry-After', async () => {
    // The template buys SPOTPAID S5.MEDIUM4 (0.08 CNY/h a node in the sandbox) and clamps. The
    // cluster's node quota is lifted so that money is what runs out.
    h = await startHarness({ sandbox: { clusters: [{ clusterId: 'cls-sh7k2m9q', region: 'ap-shanghai', maxNodes: 10_000 }] } });
    const answers = [];
    for (let i = 0; i < 500; i++) answers.push(await h.postGeneric(burst(`money-${i}`, { count: 7 })));
    const bought = h.sandbox.createdCalls.map((c) => paraOf(c));
    const committed = bought.reduce((sum, p) => sum + hourlyOf(p), 0);
    expect(committed).toBeLessThanOrEqual(12 + 1e-9);
    expect(committed).toBeGreaterThan(11.9); // it spent the budget, to the cent the last clamp allowed
    const throttled = answers.filter((a) => a.statusCode === 429);
    expect(throttled.length).toBeGreaterThan(300);
    expect(throttled[0]!.json.error).toMatchObject({ code: 'Throttled', rule: 'cost-budget' });
    expect(Number(throttled[0]!.headers['retry-after'])).toBeGreaterThan(0);
    expect(throttled[0]!.json.error.message).toMatch(/per 86400 s is committed/);
    // 21 purchases of 7 nodes (0.56 CNY/h each) leave 0.24: the 22nd is clamped to 3 nodes, and says so.
    expect(answers.find((a) => a.json.clampedBy === 'cost-budget')?.json).toMatchObject({ status: 'created', count: 3, requestedCount: 7, clampedBy: 'cost-budget', bought: { price: { amount: 0.24 } } });
    // Prices were asked once per distinct request, then taken from the cache.
    expect(inquiries().length).toBeLessThan(10);
    // What /healthz says is left.
    const health = await h.invoke({ httpMethod: 'GET', path: '/healthz', headers: { authorization: `Bearer ${HEALTH_TOKEN}` }, queryString: {}, body: '' } as never);
    expect(health.json.clusters['demo-sh'].costBudget).toMatchObject({ currency: 'CNY', hourly: 12, left: { hourly: expect.any(Number), prepaid: 2000 } });
    expect(health.json.clusters['demo-sh'].costBudget.left.hourly).toBeLessThan(0.08);
  });

  it('a deployment budget bounds every cluster together, on top of each cluster\'s own', async () => {
    // demo-sh keeps its own 12 CNY/h; the deployment allows 3 CNY/h across demo-sh and demo-bj.
    h = await startHarness({
      sandbox: { clusters: [{ clusterId: 'cls-sh7k2m9q', region: 'ap-shanghai', maxNodes: 1000 }, { clusterId: 'cls-nfjdk3n0', region: 'ap-beijing', maxNodes: 1000 }, { clusterId: 'cls-e55paxnt', region: 'ap-guangzhou' }] },
      config: (doc) => {
        doc.throttle = RELAXED_THROTTLE;
        doc.templates.small.runInstancePara.ImageId = 'img-fqais24x';
        doc.costBudget = { currency: 'CNY', hourly: 3 };
      },
    });
    const answers = [];
    for (let i = 0; i < 40; i++) {
      answers.push(await h.postGeneric(i % 2 === 0 ? burst(`d-${i}`) : { eventId: `d-${i}`, cluster: 'demo-bj', template: 'multi-disk' }));
    }
    const committed = h.sandbox.createdCalls.map((c) => paraOf(c)).reduce((sum, p) => sum + hourlyOf(p), 0);
    expect(committed).toBeLessThanOrEqual(3 + 1e-9);
    expect(new Set(h.sandbox.createdCalls.map((c) => c.params.ClusterId))).toEqual(new Set(['cls-sh7k2m9q', 'cls-nfjdk3n0']));
    const held = answers.filter((a) => a.statusCode === 429);
    expect(held.length).toBeGreaterThan(20);
    expect(held.map((a) => a.json.error.message as string).every((m) => m.includes('throttled by cost-budget: costBudget: '))).toBe(true);
    const health = await h.invoke({ httpMethod: 'GET', path: '/healthz', headers: { authorization: `Bearer ${HEALTH_TOKEN}` }, queryString: {}, body: '' } as never);
    expect(health.json.costBudget).toMatchObject({ currency: 'CNY', hourly: 3, left: { hourly: expect.any(Number) } });
    expect(health.json.costBudget.left.hourly).toBeLessThan(0.8);
  });

  it.each([
    // InternalError is retried (3 attempts in all), then given up.
    ['fails', { kind: 'error', code: 'InternalError', times: 3 }],
    ['times out', { kind: 'delay', ms: 2_000, times: 1 }],
    ['answers an unexpected shape', { kind: 'malformed', times: 1 }],
  ] as const)('a price inquiry that %s: 503 PriceUnavailable, nothing bought', async (_name, fault) => {
    h = await startHarness({ config: (doc) => { doc.throttle = RELAXED_THROTTLE; doc.pricing = { timeoutMs: 300, cacheSeconds: 0 }; } });
    h.sandbox.injectFault({ ...fault, action: 'InquiryPriceRunInstances' });
    const reply = await h.postGeneric(burst(`no-price-${fault.kind}`));
    expect(reply.statusCode).toBe(503);
    expect(reply.json.error.code).toBe('PriceUnavailable');
    expect(creates()).toHaveLength(0);
    // The claim and the node grant went back: the same event goes through once prices answer.
    expect((await h.postGeneric(burst(`no-price-${fault.kind}`))).json.status).toBe('created');
  });

  it('no price for rung 2 after rung 1 sold out: 503 PriceUnavailable, and the log line still has rung 1', async () => {
    h = await startHarness({ config: (doc) => { doc.throttle = RELAXED_THROTTLE; doc.pricing = { cacheSeconds: 0, timeoutMs: 300 }; } });
    h.sandbox.setStock({ 'ap-shanghai-2/S5.MEDIUM4': 0 });
    h.sandbox.injectFault({ kind: 'malformed', action: 'InquiryPriceRunInstances', after: 1 });
    const reply = await h.postGeneric(burst('price-gone-at-rung-2'));
    expect(reply.statusCode).toBe(503);
    expect(reply.json.error.code).toBe('PriceUnavailable');
    expect(h.sandbox.createdCalls).toHaveLength(0);
    expect(h.logLines.find((l) => l.msg === 'scale-out decision')).toMatchObject({ settlement: 'refused', ladder: [{ rung: 1, outcome: 'sold-out' }] });
  });

  it('a dry run shows every rung, its price, and what the budget leaves, buying nothing', async () => {
    h = await startHarness();
    h.sandbox.setStock({ 'ap-shanghai-2/S5.MEDIUM4': 0 });
    await h.postGeneric(burst('before-dry-run')); // marks rung 1 sold out, buys on rung 2
    const reply = await h.postGeneric(burst('dry', { dryRun: true }));
    expect(reply.json).toMatchObject({
      status: 'dry-run',
      ladder: [
        // Rung 1 has no price: CVM's inquiry answers that it is sold out.
        { rung: 1, zone: 'ap-shanghai-2', chargeType: 'SPOTPAID', wouldSkip: 'sold-out-recently', priceUnavailable: expect.stringContaining('ResourcesSoldOut.SpecifiedInstanceType') },
        { rung: 2, zone: 'ap-shanghai-4', chargeType: 'SPOTPAID', price: { amount: 0.16 } },
        // Rung 3 is the same zone and type, pay-as-you-go: sold out too.
        { rung: 3, chargeType: 'POSTPAID_BY_HOUR', priceUnavailable: expect.stringContaining('ResourcesSoldOut.SpecifiedInstanceType') },
        { rung: 4, instanceType: 'SA2.MEDIUM4', price: { amount: 0.68 } },
      ],
      budgetLeft: { currency: 'CNY', hourly: 11.84, prepaid: 2000 },
    });
    expect(new Set(reply.json.ladder.map((r: { clientToken: string }) => r.clientToken)).size).toBe(4);
    expect(h.sandbox.createdCalls).toHaveLength(1);
  });
});

describe('the sold-out memory, on /healthz', () => {
  it('lists what is marked sold out, shared by every instance; not to the public', async () => {
    h = await startHarness();
    h.sandbox.setStock({ 'ap-shanghai-2/S5.MEDIUM4': 0 });
    await h.postGeneric(burst('mark-1'));
    const get = (headers: Record<string, string>) => h.invoke({ httpMethod: 'GET', path: '/healthz', headers, queryString: {}, body: '' } as never);
    expect((await get({})).json.soldOut).toBeUndefined();
    const health = await get({ authorization: `Bearer ${HEALTH_TOKEN}` });
    expect(health.json.soldOut).toEqual([
      expect.objectContaining({ region: 'ap-shanghai', zone: 'ap-shanghai-2', instanceType: 'S5.MEDIUM4', chargeType: 'SPOTPAID', code: 'ResourcesSoldOut.SpecifiedInstanceType', until: expect.any(String) }),
    ]);
    expect(health.json.ladders).toEqual({ burst: 4 });
  });
});
