/**
 * `npm start`: the function on localhost, as a Function URL would call it.
 *
 * Without cloud credentials (no TENCENTCLOUD_SECRETID) it also starts the local TKE sandbox and
 * points the function at it, so a newcomer sees nodes "added" with no account. With credentials
 * it calls real TKE (or TKE_ENDPOINT) exactly as the deployed function would.
 */
import { coldStart } from '../../src/cold-start';
import { ScfInvokeSandbox, type InvokedHandler } from '../sandbox/scf-invoke-sandbox';
import { SANDBOX_CREDENTIAL, TkeSandbox } from '../sandbox/tke-sandbox';
import { startFunctionUrlServer } from './function-url-server';

const DEV_TOKEN = 'dev-token';
/** The secrets the example config names, given a local default when unset. */
const LOCAL_SECRET_DEFAULTS = ['SCALEOUT_GENERIC_TOKEN', 'ALERTMANAGER_TOKEN', 'GRAFANA_WEBHOOK_SECRET', 'TENCENT_MONITOR_TOKEN', 'SLACK_SIGNING_SECRET', 'FEISHU_VERIFICATION_TOKEN', 'FEISHU_ENCRYPT_KEY', 'DINGTALK_APP_SECRET', 'SCALEOUT_HEALTH_TOKEN'];

async function main(): Promise<void> {
  const env = process.env;
  const port = Number(env.PORT ?? 9000);
  let sandbox: TkeSandbox | undefined;
  let scfSandbox: ScfInvokeSandbox | undefined;
  // The function timeout SCF would impose (the deadline every call is bounded by).
  const timeoutMs = Number(env.LOCAL_TIMEOUT_MS ?? 30_000);

  if (env.TENCENTCLOUD_SECRETID === undefined || env.TENCENTCLOUD_SECRETID === '') {
    sandbox = new TkeSandbox();
    const sandboxUrl = await sandbox.start(Number(env.SANDBOX_PORT ?? 9001));
    env.TENCENTCLOUD_SECRETID = SANDBOX_CREDENTIAL.secretId;
    env.TENCENTCLOUD_SECRETKEY = SANDBOX_CREDENTIAL.secretKey;
    env.TKE_ENDPOINT = sandboxUrl;
    // The sandbox answers CVM's InquiryPriceRunInstances too (money budgets), from its price table.
    env.CVM_ENDPOINT = sandboxUrl;
    env.SCALEOUT_TKE_MODE = 'sandbox';
    console.error(`mode: SANDBOX. No TENCENTCLOUD_SECRETID set, so TKE calls go to the local sandbox at ${sandboxUrl}`);
    console.error(`      (what it received: GET ${sandboxUrl}/__sandbox/calls; its clusters: GET ${sandboxUrl}/__sandbox/clusters)`);
    console.error(`      CVM stock, to watch the burst template's ladder: curl -s -X POST ${sandboxUrl}/__sandbox/stock -d '{"ap-shanghai-2/S5.MEDIUM4": 0}'`);
    // SCF's Invoke, for the chat follow-ups the function hands to an asynchronous invocation of itself.
    if (env.SCALEOUT_FUNCTION_NAME === undefined) {
      scfSandbox = new ScfInvokeSandbox({ functionName: 'tke-scaleout-local', timeoutMs });
      env.SCALEOUT_SCF_ENDPOINT = await scfSandbox.start(Number(env.SCF_SANDBOX_PORT ?? 9002));
      env.SCALEOUT_FUNCTION_NAME = 'tke-scaleout-local';
      env.SCALEOUT_FUNCTION_REGION = 'ap-guangzhou';
      console.error(`      chat follow-ups: asynchronous invocations go to a local SCF Invoke stand-in at ${env.SCALEOUT_SCF_ENDPOINT}`);
    }
  } else {
    console.error(`mode: TENCENT CLOUD. TKE calls go to ${env.TKE_ENDPOINT ?? 'https://tke.tencentcloudapi.com'} with the credentials in the environment`);
  }

  // Well-known secrets are embedded defaults of this local server only (it listens on 127.0.0.1);
  // the deployed function has none, and a sender whose secret is unset answers 503.
  for (const name of LOCAL_SECRET_DEFAULTS) {
    if (env[name] === undefined || env[name] === '') {
      env[name] = DEV_TOKEN;
      console.error(`${name}=${DEV_TOKEN} (unset, so npm start uses its local default)`);
    }
  }

  const { handler, store } = coldStart(env);
  scfSandbox?.setHandler(handler as unknown as InvokedHandler);
  const server = await startFunctionUrlServer(handler, { port, timeoutMs });
  console.error(`listening on ${server.url} (PORT=${port})`);
  console.error(`  health:  curl -s ${server.url}/healthz   (the config summary: add -H 'Authorization: Bearer ${env.SCALEOUT_HEALTH_TOKEN === DEV_TOKEN ? DEV_TOKEN : '$SCALEOUT_HEALTH_TOKEN'}')`);
  if (env.SCALEOUT_GENERIC_TOKEN === DEV_TOKEN) {
    console.error(
      `  scale:   curl -s -X POST ${server.url}/hooks/generic -H 'Authorization: Bearer ${DEV_TOKEN}' -H 'Content-Type: application/json' -d '{"eventId":"try-1","cluster":"demo","template":"small","count":2}'`,
    );
  }

  // SCF's timer trigger, here an interval: a pass following what the function bought (its nodes
  // joining, ready or failed; GET /purchases shows it). FOLLOW_EVERY_SECONDS, default 60; 0: none.
  const followEvery = Number(env.FOLLOW_EVERY_SECONDS ?? 60);
  const follow =
    Number.isFinite(followEvery) && followEvery > 0
      ? setInterval(() => {
          const timer = { Type: 'Timer', TriggerName: 'local-follow', Time: new Date().toISOString(), Message: '' };
          void (handler as unknown as (event: unknown, context: object) => Promise<unknown>)(timer, { request_id: 'local-follow', getRemainingTimeInMillis: () => timeoutMs }).catch((error: unknown) =>
            console.error(`purchase pass failed: ${(error as Error).message}`),
          );
        }, followEvery * 1000)
      : undefined;
  follow?.unref();
  if (follow !== undefined) console.error(`  follow:  a pass every ${followEvery} s follows each purchase (FOLLOW_EVERY_SECONDS); see GET ${server.url}/purchases with the health token`);

  const shutdown = async () => {
    if (follow !== undefined) clearInterval(follow);
    await server.close();
    await scfSandbox?.stop();
    await sandbox?.stop();
    await store.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown());
  process.once('SIGTERM', () => void shutdown());
}

main().catch((error: unknown) => {
  console.error((error as Error).message);
  process.exit(1);
});
