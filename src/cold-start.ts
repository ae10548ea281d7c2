import { bearerAuthentication } from './auth/authenticators';
import { configPathFor } from './config/config-path';
import { loadConfigFile, type Config } from './config/load-config';
import { ConfigError } from './errors';
import { createHandler, type ScfHandler } from './handler';
import { createLogger, type Logger } from './log/logger';
import { createScaleOutApp, type ScaleOutApp } from './scale-out-app';
import { createSources } from './sources';
import { MemoryStore } from './store/memory-store';
import type { StateStore } from './store/state-store';
import { followUpsThroughScf } from './sources/chat/follow-up';
import { createScfAsyncInvoker } from './tencentcloud/scf-invoke';
import { createSdkCvmApi } from './tencentcloud/cvm-api';
import { createSdkTkeApi, type TkeCredentials } from './tke/sdk-tke-api';
import { createKubeApi, type KubeApi } from './kubernetes/kube-api';
import type { ClusterConfig } from './core/model';

/**
 * Everything built once per function instance: config read and validated, sender secrets read,
 * store and TKE client made. A wrong setting stops the instance here, with a message naming the
 * key, rather than failing the first alarm.
 *
 * Environment:
 *   SCALEOUT_CONFIG      path of the config, YAML or the JSON `npm run package` compiles (default:
 *                        the packaged config/scaleout.json, else config/example.yaml)
 *   SCALEOUT_STORE       "memory" (default: this instance only) or redis://… / rediss://… (shared)
 *   TKE_ENDPOINT         URL to send TKE calls to instead of https://tke.tencentcloudapi.com
 *   CVM_ENDPOINT         URL for price inquiries (money budgets) instead of https://cvm.tencentcloudapi.com
 *   TENCENTCLOUD_SECRETID / TENCENTCLOUD_SECRETKEY / TENCENTCLOUD_SESSIONTOKEN   set by SCF's role
 *   SCALEOUT_TKE_MODE    "sandbox" when `npm start` points the function at its local sandbox
 *   SCALEOUT_FUNCTION_NAME / _NAMESPACE / _REGION   this function, for chat follow-ups (an
 *                        asynchronous Invoke of itself; `npm run deploy` sets them). Unset: none.
 *   SCALEOUT_SCF_ENDPOINT  URL for those Invoke calls instead of https://scf.tencentcloudapi.com
 */
export interface ColdStart {
  readonly app: ScaleOutApp;
  readonly handler: ScfHandler;
  readonly logger: Logger;
  readonly store: StateStore;
}

/**
 * Loaded only when SCALEOUT_STORE names a Redis: the client is ~150 KB, and an instance on the
 * memory store should not pay for evaluating it at every cold start. The packaged function keeps it
 * in a file of its own (ioredis.js, build/bundle.mjs), so that instance does not compile it either.
 */
function redisStore(url: string, config: Config, now: () => number): StateStore {
  const { RedisStore } = require('./store/redis-store') as typeof import('./store/redis-store');
  return new RedisStore({
    url,
    keyPrefix: config.store.keyPrefix,
    commandTimeoutMs: config.store.commandTimeoutMs,
    acceptEvictingPolicy: config.store.acceptEvictingPolicy,
    now,
  });
}


/** The senders whose commands are followed in their conversation (notify/conversation.ts). */
const CHAT_SENDERS = ['slack', 'feishu', 'dingtalk'] as const;

export function coldStart(env: NodeJS.ProcessEnv = process.env, logger: Logger = createLogger(), now: () => number = Date.now): ColdStart {
  try {
    const configPath = configPathFor(env);
    const config = loadConfigFile(configPath);
    const problems: string[] = [];
    /** An env var as set: an empty one counts as unset. */
    const setting = (key: string): string | undefined => (env[key] === '' ? undefined : env[key]);
    /** A URL that replaces one of Tencent Cloud's API hosts: scheme and host, nothing after. */
    const endpointSetting = (key: string, examples: string): string | undefined => {
      const url = setting(key);
      if (url !== undefined && !/^https?:\/\/[^/]+\/?$/.test(url)) problems.push(`${key}: must be a URL such as ${examples}, got ${JSON.stringify(url)}`);
      return url;
    };

    const storeSetting = setting('SCALEOUT_STORE') ?? 'memory';
    if (storeSetting !== 'memory' && !/^rediss?:\/\/[^/\s]+(\/\d{1,2})?$/.test(storeSetting)) {
      // Never echo the value: a Redis URL carries its password.
      problems.push('SCALEOUT_STORE: must be "memory" or a URL such as redis://:password@host:6379/0 (rediss:// for TLS)');
    }

    const endpointUrl = endpointSetting('TKE_ENDPOINT', 'http://127.0.0.1:9001 or https://tke.internal.tencentcloudapi.com');
    const scfEndpointUrl = endpointSetting('SCALEOUT_SCF_ENDPOINT', 'http://127.0.0.1:9002');
    const cvmEndpointUrl = endpointSetting('CVM_ENDPOINT', 'http://127.0.0.1:9001 or https://cvm.internal.tencentcloudapi.com');
    const functionName = setting('SCALEOUT_FUNCTION_NAME');
    const functionRegion = setting('SCALEOUT_FUNCTION_REGION');
    if (functionName !== undefined && functionRegion === undefined) {
      problems.push('SCALEOUT_FUNCTION_REGION: must be set with SCALEOUT_FUNCTION_NAME (the region the function runs in)');
    }
    for (const key of ['TENCENTCLOUD_SECRETID', 'TENCENTCLOUD_SECRETKEY'] as const) {
      if (setting(key) === undefined) problems.push(`${key}: must be set (SCF sets it when the function has an execution role)`);
    }
    if (problems.length > 0) throw new ConfigError('the environment', problems);

    const credentials = (): TkeCredentials => {
      const token = setting('TENCENTCLOUD_SESSIONTOKEN');
      return { secretId: env.TENCENTCLOUD_SECRETID ?? '', secretKey: env.TENCENTCLOUD_SECRETKEY ?? '', ...(token !== undefined && { token }) };
    };
    const store: StateStore = storeSetting === 'memory' ? new MemoryStore(now) : redisStore(storeSetting, config, now);
    // Chat follow-ups: a command TKE did not answer within the chat's deadline is finished by an
    // asynchronous invocation of this function (sources/chat/follow-up.ts).
    const followUps = functionName === undefined ? undefined : followUpsThroughScf(createScfAsyncInvoker({
      functionName,
      namespace: env.SCALEOUT_FUNCTION_NAMESPACE || 'default',
      region: functionRegion!,
      ...(scfEndpointUrl !== undefined && { endpointUrl: scfEndpointUrl }),
      credentials,
      timeoutMs: 2000,
    }));
    const sources = createSources(config, env, followUps);
    const tke = createSdkTkeApi({
      ...(endpointUrl !== undefined && { endpointUrl }),
      credentials,
      attemptTimeoutMs: config.tke.attemptTimeoutMs,
    });
    // CVM: prices, when the config has a money budget, and the CVM side of what the function bought
    // (its marks and charge type) for the pass that follows purchases. Its SDK client is loaded on its first call.
    const cvm = createSdkCvmApi({ ...(cvmEndpointUrl !== undefined && { endpointUrl: cvmEndpointUrl }), credentials, timeoutMs: config.pricing.timeoutMs });
    // Where notices go (notify/): the sinks `notify:` names, and a chat command's conversation.
    // Required only when there are any, like each sender on its first use: a deployment that tells
    // no one does not load (nor cache) the sinks. The conversation's sender is looked up when a
    // post is due, not now, so no sender is built at cold start for it.
    const chatSenders = CHAT_SENDERS.some((name) => config.sources[name] !== undefined);
    const sinks =
      config.notify === undefined && !chatSenders
        ? new Map()
        : (require('./notify/sinks') as typeof import('./notify/sinks')).createSinks(config, env, {
            fetch: globalThis.fetch,
            store,
            chatSenders,
            conversationPoster: (name) => sources.get(name)?.conversation?.post,
          });
    // Each cluster's Kubernetes API, for giving nodes back (kubernetes/kube-api.ts): built on its
    // first use from the env vars its config names; unset, that cluster's nodes are not given back.
    const kubeApis = new Map<string, KubeApi | undefined>();
    const kubeFor = (cluster: ClusterConfig): KubeApi | undefined => {
      const access = cluster.kubernetes;
      if (access === undefined) return undefined;
      if (!kubeApis.has(cluster.alias)) {
        const server = setting(access.serverEnv);
        const pemOf = (name: string | undefined) => {
          const value = name === undefined ? undefined : setting(name);
          // PEM as it is, or a kubeconfig's base64 *-data field.
          return value === undefined ? undefined : value.includes('-----BEGIN') ? value : Buffer.from(value, 'base64').toString('utf8');
        };
        const token = access.tokenEnv === undefined ? undefined : setting(access.tokenEnv);
        const certPem = pemOf(access.clientCertEnv);
        const keyPem = pemOf(access.clientKeyEnv);
        const credentials = token !== undefined ? { token } : certPem !== undefined && keyPem !== undefined ? { certPem, keyPem } : undefined;
        const ca = pemOf(access.caEnv);
        kubeApis.set(cluster.alias, server === undefined || credentials === undefined ? undefined : createKubeApi({ server, credentials, ...(ca !== undefined && { caPem: ca }) }));
      }
      return kubeApis.get(cluster.alias);
    };
    const priced = config.costBudget !== undefined || [...config.clusters.values()].some((c) => c.costBudget !== undefined);
    const app = createScaleOutApp({
      config,
      ...(priced && { prices: cvm }),
      cvm,
      sources,
      store,
      tke,
      now,
      sinks,
      kubeFor,
      tkeMode: env.SCALEOUT_TKE_MODE === 'sandbox' ? 'sandbox' : endpointUrl !== undefined ? 'endpoint-override' : 'tencent-cloud',
      ...(config.health !== undefined && { healthAuth: bearerAuthentication('health', config.health, env) }),
    });
    logger.info(
      {
        config: configPath,
        clusters: [...config.clusters.keys()],
        templates: [...config.templates.keys()],
        sources: [...sources.keys()],
        store: store.kind,
        tke: tke.endpointDescription,
        // Names and types only: a sink's URL is its credential.
        notify: [...sinks.values()].map((s) => `${s.name} (${s.type})`),
        chatFollowUps: followUps?.description ?? 'off (SCALEOUT_FUNCTION_NAME unset): a chat command TKE does not answer in time is told how to check',
        // Whether V8 took the packaged code cache, and if not why (a slower cold start): set by the
        // zip's index.js (build/function-loader.cjs); absent when the function is loaded otherwise.
        ...(env.SCALEOUT_CODE_CACHE !== undefined && { codeCache: env.SCALEOUT_CODE_CACHE }),
      },
      'cold start',
    );
    // The store is checked before its first decision anyway; starting now puts what is wrong with it
    // (an evicting Redis, a cluster node, a refused password) in the log at cold start.
    store.check?.().then(
      (check) => {
        if (check.problem !== undefined) logger.error({ store: check }, 'state store refused: every scale-out answers 503 until this is fixed');
        else if (check.warning !== undefined) logger.warn({ store: check }, 'state store accepted with a risk');
      },
      (error: unknown) => logger.error({ store: { problem: (error as Error).message } }, 'state store not reachable at cold start'),
    );
    return { app, handler: createHandler(app, logger), logger, store };
  } catch (error) {
    if (error instanceof ConfigError) logger.fatal({ problems: error.problems }, error.message.split('\n')[0]!);
    throw error;
  }
}
