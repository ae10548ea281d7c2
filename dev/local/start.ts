/**
 * `npm start`: the function on localhost, as a Function URL would call it.
 *
 * Without cloud credentials (no TENCENTCLOUD_SECRETID) it also starts the local TKE sandbox and
 * points the function at it, so a newcomer sees nodes "added" with no account. With credentials
 * it calls real TKE (or TKE_ENDPOINT) exactly as the deployed function would.
 */
import { coldStart } from '../../src/cold-start';
import { ScfInvokeSandbox, type InvokedHandler } from '../sandbox/scf-invoke-sandbox';
import { DEFAULT_JOIN_SECONDS, SANDBOX_CREDENTIAL, TkeSandbox } from '../sandbox/tke-sandbox';
import { startFunctionUrlServer } from './function-url-server';
import { NotifyCapture } from '../sandbox/notify-capture';
import { KubeSandbox } from '../sandbox/kube-sandbox';

const DEV_TOKEN = 'dev-token';
/** The secrets the example config names, given a local default when unset. */
const LOCAL_SECRET_DEFAULTS = ['SCALEOUT_GENERIC_TOKEN', 'ALERTMANAGER_TOKEN', 'GRAFANA_WEBHOOK_SECRET', 'TENCENT_MONITOR_TOKEN', 'SLACK_SIGNING_SECRET', 'FEISHU_VERIFICATION_TOKEN', 'FEISHU_ENCRYPT_KEY', 'DINGTALK_APP_SECRET', 'SCALEOUT_HEALTH_TOKEN'];

/** The example config's sink env vars: all unset, npm start points them at its capture. */
const NOTIFY_ENV = ['NOTIFY_SLACK_URL', 'NOTIFY_FEISHU_URL', 'NOTIFY_DINGTALK_URL', 'NOTIFY_WECOM_URL', 'NOTIFY_WEBHOOK_URL'];
/** Local secrets for the capture's signature checks (a fixed 32-byte Standard Webhooks key). */
const LOCAL_NOTIFY_SECRETS = { feishu: 'local-feishu-secret', dingtalk: 'SEClocal-dingtalk-secret', webhook: `whsec_${Buffer.alloc(32, 'local-webhook-secret').toString('base64')}` };

async function main(): Promise<void> {
  const env = process.env;
  const port = Number(env.PORT ?? 9000);
  let sandbox: TkeSandbox | undefined;
  let scfSandbox: ScfInvokeSandbox | undefined;
  let capture: NotifyCapture | undefined;
  let kube: KubeSandbox | undefined;
  // The function timeout SCF would impose (the deadline every call is bounded by).
  const timeoutMs = Number(env.LOCAL_TIMEOUT_MS ?? 30_000);

  if (env.TENCENTCLOUD_SECRETID === undefined || env.TENCENTCLOUD_SECRETID === '') {
    // How long its nodes take to join: 20 s by default, less to watch a whole cycle in a minute
    // (README, "Scaling back in"). The sandbox's only: real TKE takes minutes.
    const joinSeconds = Number(env.SANDBOX_JOIN_SECONDS ?? DEFAULT_JOIN_SECONDS);
    if (!Number.isFinite(joinSeconds) || joinSeconds < 0) throw new Error(`SANDBOX_JOIN_SECONDS must be a number of seconds, 0 or more: ${env.SANDBOX_JOIN_SECONDS}`);
    sandbox = new TkeSandbox({ joinSeconds });
    const sandboxUrl = await sandbox.start(Number(env.SANDBOX_PORT ?? 9001));
    env.TENCENTCLOUD_SECRETID = SANDBOX_CREDENTIAL.secretId;
    env.TENCENTCLOUD_SECRETKEY = SANDBOX_CREDENTIAL.secretKey;
    env.TKE_ENDPOINT = sandboxUrl;
    // The sandbox answers CVM's InquiryPriceRunInstances too (money budgets), from its price table.
    env.CVM_ENDPOINT = sandboxUrl;
    env.SCALEOUT_TKE_MODE = 'sandbox';
    console.error(`mode: SANDBOX. No TENCENTCLOUD_SECRETID set, so TKE calls go to the local sandbox at ${sandboxUrl}`);
    console.error(`      (what it received: GET ${sandboxUrl}/__sandbox/calls; its clusters: GET ${sandboxUrl}/__sandbox/clusters; its nodes join in ${joinSeconds} s: SANDBOX_JOIN_SECONDS)`);
    console.error(`      CVM stock, to watch the burst template's ladder: curl -s -X POST ${sandboxUrl}/__sandbox/stock -d '{"ap-shanghai-2/S5.MEDIUM4": 0}'`);
    // SCF's Invoke, for the chat follow-ups the function hands to an asynchronous invocation of itself.
    if (env.SCALEOUT_FUNCTION_NAME === undefined) {
      scfSandbox = new ScfInvokeSandbox({ functionName: 'tke-scaleout-local', timeoutMs });
      env.SCALEOUT_SCF_ENDPOINT = await scfSandbox.start(Number(env.SCF_SANDBOX_PORT ?? 9002));
      env.SCALEOUT_FUNCTION_NAME = 'tke-scaleout-local';
      env.SCALEOUT_FUNCTION_REGION = 'ap-guangzhou';
      console.error(`      chat follow-ups: asynchronous invocations go to a local SCF Invoke stand-in at ${env.SCALEOUT_SCF_ENDPOINT}`);
    }
    // The clusters' Kubernetes API, for giving nodes back drained: a stand-in over the sandbox's
    // instances (nodes once running, pods, cordon, eviction), for the example config's demo cluster.
    if (env.DEMO_KUBE_SERVER === undefined || env.DEMO_KUBE_SERVER === '') {
      kube = new KubeSandbox({ tke: sandbox });
      const kubeUrl = await kube.start(Number(env.KUBE_SANDBOX_PORT ?? 9004));
      env.DEMO_KUBE_SERVER = kube.serverUrl('cls-e55paxnt');
      env.DEMO_KUBE_TOKEN = kube.token('cls-e55paxnt');
      console.error(`      Kubernetes API of demo (giving nodes back): a local stand-in at ${env.DEMO_KUBE_SERVER}`);
      console.error(`      (its nodes and pods: GET ${kubeUrl}/__kube/clusters; a pod on a node: curl -s -X POST ${kubeUrl}/__kube/pods -d '{"nodeName":"<its name>","name":"web-1","requests":{"cpu":"500m"}}')`);
    }
    // The team's channels: a local stand-in for Slack, Feishu, DingTalk, WeCom and a webhook that
    // checks each platform's signature and prints every message (the example config's notify:).
    const unsetSinks = NOTIFY_ENV.filter((name) => env[name] === undefined || env[name] === '');
    if (unsetSinks.length === NOTIFY_ENV.length) {
      capture = new NotifyCapture({ secrets: { feishu: LOCAL_NOTIFY_SECRETS.feishu, dingtalk: LOCAL_NOTIFY_SECRETS.dingtalk, webhook: LOCAL_NOTIFY_SECRETS.webhook }, print: (text) => console.error(text) });
      const captureUrl = await capture.start(Number(env.NOTIFY_CAPTURE_PORT ?? 9003));
      Object.assign(env, {
        NOTIFY_SLACK_URL: `${captureUrl}/slack/services/T0LOCAL/B0LOCAL/local`,
        NOTIFY_FEISHU_URL: `${captureUrl}/feishu/open-apis/bot/v2/hook/local`,
        NOTIFY_FEISHU_SECRET: LOCAL_NOTIFY_SECRETS.feishu,
        NOTIFY_DINGTALK_URL: `${captureUrl}/dingtalk/robot/send?access_token=local`,
        NOTIFY_DINGTALK_SECRET: LOCAL_NOTIFY_SECRETS.dingtalk,
        NOTIFY_WECOM_URL: `${captureUrl}/wecom/cgi-bin/webhook/send?key=local`,
        NOTIFY_WEBHOOK_URL: `${captureUrl}/webhook/local`,
        NOTIFY_WEBHOOK_SECRET: LOCAL_NOTIFY_SECRETS.webhook,
      });
      console.error(`      notices: the sinks of notify: post to a local capture at ${captureUrl}, which prints each message here`);
      console.error(`      (what it received: GET ${captureUrl}/__capture/received; a sink that fails: curl -s -X POST ${captureUrl}/__capture/faults -d '{"platform":"slack","status":503,"times":3}')`);
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
    await capture?.stop();
    await kube?.stop();
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
