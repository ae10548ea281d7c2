/**
 * The measuring half of `npm run bench`, run by bench.ts under the exact Node 18.15 (SCF's runtime)
 * in a process of its own. It loads the *built* function from a code root, as SCF does, and the
 * SDK baseline, and calls both against the sandbox process.
 *
 *   node runner.js <job.json> <result.json>
 *
 * Jobs: `hot` (sequential events, function and baseline interleaved), `storm` (distinct events at a
 * given concurrency through the function), `storm-baseline` (the same through the bare SDK).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { sdkBaselineCall, sdkBaselineClient } from './sdk-baseline';

export type RunnerJob =
  | { kind: 'hot'; codeRoot: string; sandboxUrl: string; events: number; warmup: number; clusters: ReadonlyArray<{ alias: string; clusterId: string }> }
  | { kind: 'storm'; codeRoot: string; sandboxUrl: string; events: number; concurrency: number; runId: string }
  | { kind: 'storm-baseline'; sandboxUrl: string; events: number; concurrency: number; runId: string };

export interface Timings {
  readonly ms: number[];
  readonly statuses: Record<string, number>;
  readonly wallMs: number;
}

type Handler = (event: unknown, context: object) => Promise<{ statusCode: number; body: string }>;

const genericEvent = (eventId: string, cluster = 'demo-bj') => ({
  httpMethod: 'POST',
  path: '/hooks/generic',
  headers: { 'content-type': 'application/json', authorization: `Bearer ${process.env.SCALEOUT_GENERIC_TOKEN}` },
  queryString: {},
  body: JSON.stringify({ eventId, cluster, template: 'multi-disk' }),
});

function loadFunction(codeRoot: string): Handler {
  process.env.USER_CODE_ROOT = resolve(codeRoot);
  return (require(resolve(codeRoot, 'index.js')) as { main_handler: Handler }).main_handler;
}

/** Runs `task(i)` for i < n with at most `concurrency` at once; per-task latency and the wall time. */
async function pool(n: number, concurrency: number, task: (i: number) => Promise<string>): Promise<Timings> {
  const ms: number[] = [];
  const statuses: Record<string, number> = {};
  let next = 0;
  const startedAt = performance.now();
  const worker = async () => {
    while (next < n) {
      const i = next++;
      const t = performance.now();
      const status = await task(i);
      ms.push(performance.now() - t);
      statuses[status] = (statuses[status] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  return { ms, statuses, wallMs: performance.now() - startedAt };
}

const context = () => ({ request_id: 'bench', time_limit_in_ms: 30_000 });

async function run(job: RunnerJob): Promise<unknown> {
  switch (job.kind) {
    case 'hot': {
      const handler = loadFunction(job.codeRoot);
      const client = sdkBaselineClient(job.sandboxUrl, 'ap-beijing');
      const fn: number[] = [];
      const sdk: number[] = [];
      const statuses: Record<string, number> = {};
      // Event i goes to cluster i mod n, through the function and through the SDK alike.
      const clusterOf = (i: number) => job.clusters[((i % job.clusters.length) + job.clusters.length) % job.clusters.length]!;
      const viaFunction = async (i: number) => {
        const t = performance.now();
        const answer = await handler(genericEvent(`hot-${job.clusters.length}-${i}`, clusterOf(i).alias), context());
        const elapsed = performance.now() - t;
        statuses[answer.statusCode] = (statuses[answer.statusCode] ?? 0) + 1;
        if (answer.statusCode !== 200) throw new Error(`the function answered ${answer.statusCode}: ${answer.body}`);
        return elapsed;
      };
      const viaSdk = async (i: number) => {
        const t = performance.now();
        await sdkBaselineCall(client, `bare-hot-${job.clusters.length}-${i}`, clusterOf(i).clusterId);
        return performance.now() - t;
      };
      for (let i = 0; i < job.warmup; i++) {
        await viaFunction(-1 - i);
        await viaSdk(-1 - i);
      }
      for (const key of Object.keys(statuses)) delete statuses[key];
      // Interleaved, alternating which goes first, so drift on a shared machine hits both alike.
      for (let i = 0; i < job.events; i++) {
        if (i % 2 === 0) {
          fn.push(await viaFunction(i));
          sdk.push(await viaSdk(i));
        } else {
          sdk.push(await viaSdk(i));
          fn.push(await viaFunction(i));
        }
      }
      return { fn, sdk, statuses };
    }
    case 'storm': {
      const handler = loadFunction(job.codeRoot);
      return pool(job.events, job.concurrency, async (i) => {
        const answer = await handler(genericEvent(`storm-${job.runId}-${i}`), context());
        const body = JSON.parse(answer.body) as { status?: string; error?: { code?: string } };
        return `${answer.statusCode} ${body.status ?? body.error?.code ?? ''}`.trim();
      });
    }
    case 'storm-baseline': {
      const client = sdkBaselineClient(job.sandboxUrl, 'ap-beijing');
      return pool(job.events, job.concurrency, async (i) => {
        await sdkBaselineCall(client, `bare-storm-${job.runId}-${i}`);
        return '200';
      });
    }
  }
}

const [jobPath, resultPath] = process.argv.slice(2);
run(JSON.parse(readFileSync(jobPath!, 'utf8')) as RunnerJob).then(
  (result) => {
    writeFileSync(resultPath!, JSON.stringify({ node: process.version, result }));
    process.exit(0);
  },
  (error: unknown) => {
    console.error(error instanceof Error ? error.stack : error);
    process.exit(1);
  },
);
