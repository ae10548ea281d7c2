import * as z from './zod';
import { ALERT_SOURCES } from './alert-sources';
import { durationSeconds } from './duration';
import { LABEL_VALUE } from '../core/marks';
import { LANGUAGES, NOTICE_KINDS } from '../core/notice';
import { RUN_INSTANCE_PARA_KEYS, INSTANCE_ADVANCED_SETTINGS_KEYS, FUNCTION_OWNED_RUN_INSTANCE_PARA_KEYS } from '../tke/tke-params';

/**
 * The shape of the operator's YAML config. Every object is strict: a misspelt key is an error at
 * cold start, not a silently ignored setting (middy validates its options the same way).
 * Cross-field rules (a template naming an unknown cluster, a param path outside its template)
 * live in `assemble-config.ts` and its checks, which have the whole document in hand.
 *
 * Written with zod/mini (config/zod.ts), like the senders' payloads: `z.optional(s)` is zod's
 * chained `s.optional()`, `z._default(s, v)` its `s.default(v)`, `s.check(z.gte(1), ...)` its
 * `s.min(1)...`: the same schemas, checks and messages, without the chained API, which would
 * otherwise ship in the function for this schema alone (bench/NOTES.md, "Size").
 */

/** SCF's limit for a synchronous invocation's request (platform docs: 6 MB). */
export const SCF_REQUEST_LIMIT_BYTES = 6 * 1024 * 1024;

const MAX_INSTANCE_COUNT = 500; // CVM RunInstances InstanceCount upper bound (docs/PLATFORM.md)

const alias = z.string().check(z.regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be lower-case letters, digits and dashes (at most 63)'));

const envVarName = z.string().check(
  z.regex(/^[A-Z_][A-Z0-9_]*$/, 'must be an env var name such as MY_TOKEN'),
  // SCF reserves these prefixes for the platform (docs/PLATFORM.md): a user cannot set them.
  z.refine((name) => !/^(SCF_|QCLOUD_|TENCENTCLOUD_)/.test(name), 'SCF reserves the prefixes SCF_, QCLOUD_ and TENCENTCLOUD_'),
);

/**
 * The env var(s) holding a sender's secret: one name, or a list with the current secret first and
 * earlier ones after it, each still accepted, so that a secret can be rotated without downtime.
 */
const secretEnv = z.union([envVarName, z.array(envVarName).check(z.minLength(1), z.maxLength(4))]);

/** A whole number from `min` to `max`. */
const wholeNumber = (min: number, max: number) => z.number().check(z.int(), z.gte(min), z.lte(max));

const positiveInt = (max: number) => wholeNumber(1, max);

/** A duration as Alertmanager writes one (30s, 10m, 1h), from `minSeconds` to `maxSeconds`. */
function durationSchema(minSeconds: number, maxSeconds: number) {
  return z.string().check(
    z.regex(/^\d{1,6}(s|m|h)$/, 'must be a duration such as 30s, 10m or 1h'),
    z.refine((d) => {
      const seconds = durationSeconds(d);
      return seconds >= minSeconds && seconds <= maxSeconds;
    }, `must be from ${minSeconds} s to ${maxSeconds / 3600} h`),
  );
}

/** Throttle rules (core/throttle.ts). Top level: the defaults; a cluster or template overrides any of them. */
const throttleRuleFields = {
  /** No scale-out within this long of the last success (AWS and Tencent Auto Scaling default: 300). */
  cooldownSeconds: wholeNumber(0, 86_400),
  /** The rolling window of the node budget. */
  windowSeconds: wholeNumber(60, 7 * 86_400),
  /** Nodes granted per window, in all. */
  maxNodesPerWindow: wholeNumber(1, 10_000),
  /** Optional ceiling on the cluster's total nodes (ClusterNodeNum, read with DescribeClusters). */
  maxClusterNodes: wholeNumber(1, 100_000),
};

export const THROTTLE_DEFAULTS = { cooldownSeconds: 300, windowSeconds: 3600, maxNodesPerWindow: 20 } as const;

const throttleDefaultsSchema = z.prefault(
  z.strictObject({
    cooldownSeconds: z._default(throttleRuleFields.cooldownSeconds, THROTTLE_DEFAULTS.cooldownSeconds),
    windowSeconds: z._default(throttleRuleFields.windowSeconds, THROTTLE_DEFAULTS.windowSeconds),
    maxNodesPerWindow: z._default(throttleRuleFields.maxNodesPerWindow, THROTTLE_DEFAULTS.maxNodesPerWindow),
    maxClusterNodes: z.optional(throttleRuleFields.maxClusterNodes),
  }),
  {},
);

const throttleOverrideSchema = z.partial(z.strictObject(throttleRuleFields));

/**
 * A budget in money per rolling window (core/cost-budget.ts; README "Money budget"). Prices come
 * from CVM's InquiryPriceRunInstances, which answers in the account's billing currency and does not
 * name it: the operator states it, and a budget without one is refused.
 */
export const costBudgetSchema = z
  .strictObject({
    currency: z.enum(['CNY', 'USD'], {
      error: (issue) =>
        `${issue.input === undefined ? 'is required' : 'must be CNY or USD'}: the currency the account is billed in (CNY on the China site, USD on the international site), which InquiryPriceRunInstances answers in without naming it`,
    }),
    windowSeconds: z._default(wholeNumber(60, 31 * 86_400), 86_400),
    /** Pay-as-you-go: the run-rate (currency per hour) the window's scale-outs may add, in all. */
    hourly: z.optional(z.number().check(z.positive())),
    /** Prepaid: what the window's purchases may commit, in all. */
    prepaid: z.optional(z.number().check(z.positive())),
  })
  .check(z.refine((b) => b.hourly !== undefined || b.prepaid !== undefined, 'set hourly (pay-as-you-go run-rate per hour) or prepaid (total), or both'));

/**
 * How the function reaches a cluster's Kubernetes API to give nodes back (kubernetes/kube-api.ts):
 * its endpoint (the intranet one, from a function in the cluster's VPC) and a bearer token with the
 * least RBAC (docs/DEPLOY.md), both secrets in env vars like every other; the cluster's CA too.
 */
const kubernetesAccessSchema = z
  .strictObject({
    /** https://<the cluster's intranet API endpoint> (http only for a local stand-in). */
    serverEnv: envVarName,
    /** A ServiceAccount's bearer token (docs/DEPLOY.md: the least RBAC) ... */
    tokenEnv: z.optional(envVarName),
    /** ... or a kubeconfig user's client certificate and key, PEM or the kubeconfig's base64 `client-certificate-data` / `client-key-data`. */
    clientCertEnv: z.optional(envVarName),
    clientKeyEnv: z.optional(envVarName),
    /** The cluster's CA, PEM (or the kubeconfig's base64 certificate-authority-data). Absent: the system's CAs. */
    caEnv: z.optional(envVarName),
  })
  .check(
    z.refine((k) => (k.tokenEnv !== undefined) !== (k.clientCertEnv !== undefined || k.clientKeyEnv !== undefined), 'set exactly one of tokenEnv, or clientCertEnv with clientKeyEnv'),
    z.refine((k) => (k.clientCertEnv === undefined) === (k.clientKeyEnv === undefined), { message: 'a client certificate needs its key: set both clientCertEnv and clientKeyEnv', path: ['clientKeyEnv'] }),
  );

/**
 * Giving the function's nodes back (core/release.ts): top level, the defaults; a cluster overrides
 * any of them. The defaults are cluster-autoscaler's (FAQ.md: scale-down-delay-after-add 10 min,
 * max-graceful-termination-sec 600) and Karpenter's (disruption budget nodes: 10 %).
 */
const releaseFields = {
  /** The function's nodes in the cluster never fewer than this. */
  floor: wholeNumber(0, 10_000),
  /** Of the function's nodes in the cluster, at most this many given back at once: a count, or a share like "10%". */
  maxDisrupted: z.union([wholeNumber(1, 10_000), z.string().check(z.regex(/^([1-9]\d?|100)%$/, 'a share such as "10%"'))]),
  /** Release only while what remains stays below this share of allocatable CPU and memory requested by pods; false: no guard. */
  keepRequestedBelow: z.union([z.number().check(z.gt(0), z.lte(1)), z.literal(false)]),
  /** No release within this long of the function's last purchase in the cluster. */
  delayAfterPurchase: durationSchema(0, 86_400),
  /** No release begins within this long of the last one the function began in the cluster (Tencent Auto Scaling's cooldown, 300 s). */
  cooldown: durationSchema(0, 86_400),
  /** A node's drain gives up after this: it stays cordoned and the team is told, unless `force`. */
  drainTimeout: durationSchema(30, 86_400),
  /** After drainTimeout, delete the node anyway (its pods are killed without their PodDisruptionBudget). */
  force: z.boolean(),
};
export const RELEASE_DEFAULTS = { floor: 0, maxDisrupted: '10%', keepRequestedBelow: 0.7, delayAfterPurchase: '10m', cooldown: '5m', drainTimeout: '10m', force: false } as const;
const releaseDefaultsSchema = z.prefault(
  z.strictObject({
    floor: z._default(releaseFields.floor, RELEASE_DEFAULTS.floor),
    maxDisrupted: z._default(releaseFields.maxDisrupted, RELEASE_DEFAULTS.maxDisrupted),
    keepRequestedBelow: z._default(releaseFields.keepRequestedBelow, RELEASE_DEFAULTS.keepRequestedBelow),
    delayAfterPurchase: z._default(releaseFields.delayAfterPurchase, RELEASE_DEFAULTS.delayAfterPurchase),
    cooldown: z._default(releaseFields.cooldown, RELEASE_DEFAULTS.cooldown),
    drainTimeout: z._default(releaseFields.drainTimeout, RELEASE_DEFAULTS.drainTimeout),
    force: z._default(releaseFields.force, RELEASE_DEFAULTS.force),
  }),
  {},
);

export const clusterSchema = z.strictObject({
  clusterId: z.string().check(z.regex(/^cls-[a-z0-9]{8}$/, 'must be a TKE cluster ID such as cls-e55paxnt')),
  region: z.string().check(z.regex(/^[a-z]{2}-[a-z]+(-[a-z0-9]+)*$/, 'must be a Tencent Cloud region such as ap-guangzhou')),
  /** Overrides of the top-level throttle for this cluster. */
  throttle: z.optional(throttleOverrideSchema),
  /** Money its scale-outs may commit per window; absent: nodes are the only budget. */
  costBudget: z.optional(costBudgetSchema),
  /** Its Kubernetes API, to give nodes back drained; absent: the function never gives this cluster's nodes back. */
  kubernetes: z.optional(kubernetesAccessSchema),
  /** Overrides of the top-level `release` for this cluster. */
  release: z.optional(z.partial(z.strictObject(releaseFields))),
});

const paramPath = z
  .string()
  .check(
    z.regex(
      /^(RunInstancePara|InstanceAdvancedSettings)(\.[A-Za-z0-9_]+)+$/,
      'must start with RunInstancePara. or InstanceAdvancedSettings. and continue with dot-separated names or indexes',
    ),
  );

const scalar = z.union([z.string(), z.number(), z.boolean()]);

export const paramSpecSchema = z
  .strictObject({
    description: z.optional(z.string()),
    /**
     * Where the value is written: `RunInstancePara.<path>` or `InstanceAdvancedSettings.<path>`, or a
     * list of such paths when one choice must change two places (a data disk's size is both bought
     * in RunInstancePara and matched for mounting in InstanceAdvancedSettings).
     */
    path: z.union([paramPath, z.array(paramPath).check(z.minLength(1))]),
    /** The only values an event may choose. */
    values: z.optional(z.array(scalar).check(z.minLength(1))),
    /** Or a numeric range, inclusive. */
    min: z.optional(z.number()),
    max: z.optional(z.number()),
    /** With min/max: whole numbers only (disk sizes, bandwidth). */
    integer: z._default(z.boolean(), true),
  })
  .check(
    z.superRefine((spec, ctx) => {
      const hasRange = spec.min !== undefined || spec.max !== undefined;
      if ((spec.values === undefined) === !hasRange) {
        ctx.addIssue({ code: 'custom', message: 'set either values or min and max', path: [] });
      }
      if (hasRange && (spec.min === undefined || spec.max === undefined)) {
        ctx.addIssue({ code: 'custom', message: 'a range needs both min and max', path: [] });
      }
      if (spec.min !== undefined && spec.max !== undefined && spec.min > spec.max) {
        ctx.addIssue({ code: 'custom', message: 'min must not exceed max', path: ['min'] });
      }
    }),
  );

const runInstanceParaSchema = z.record(z.string(), z.unknown()).check(
  z.superRefine((para, ctx) => {
    for (const key of Object.keys(para)) {
      if ((FUNCTION_OWNED_RUN_INSTANCE_PARA_KEYS as readonly string[]).includes(key)) {
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message:
            key === 'ClientToken'
              ? 'is derived from each event by the function; remove it'
              : 'is set from the event count; use count.default and count.max instead',
        });
      } else if (!(RUN_INSTANCE_PARA_KEYS as readonly string[]).includes(key)) {
        ctx.addIssue({ code: 'unrecognized_keys', keys: [key], path: [], message: `Unrecognized key: "${key}"` });
      }
    }
  }),
);

const instanceAdvancedSettingsSchema = z.strictObject(
  Object.fromEntries(INSTANCE_ADVANCED_SETTINGS_KEYS.map((key) => [key, z.optional(z.unknown())])) as Record<
    (typeof INSTANCE_ADVANCED_SETTINGS_KEYS)[number],
    z.ZodMiniOptional<z.ZodMiniUnknown>
  >,
);

export const SKIP_VALIDATE_OPTIONS = ['GlobalRouteCIDRCheck', 'VpcCniCIDRCheck'] as const;

export const templateSchema = z.strictObject({
  description: z.optional(z.string()),
  /** Cluster aliases this template may scale: its VPC, subnet and zone belong to them. */
  clusters: z.array(alias).check(z.minLength(1)),
  count: z
    .strictObject({
      default: z._default(positiveInt(MAX_INSTANCE_COUNT), 1),
      /** The most one event may ask for. */
      max: positiveInt(MAX_INSTANCE_COUNT),
      /**
       * Instead of refusing a count above max, or above what the node budget or cluster ceiling
       * leave, scale by what is allowed; the answer says it was clamped and by which rule.
       */
      clamp: z._default(z.boolean(), false),
    })
    .check(z.refine((c) => c.default <= c.max, { message: 'default must not exceed max', path: ['default'] })),
  runInstancePara: runInstanceParaSchema,
  instanceAdvancedSettings: z.optional(instanceAdvancedSettingsSchema),
  skipValidateOptions: z.optional(z.array(z.enum(SKIP_VALIDATE_OPTIONS))),
  params: z._default(z.record(z.string().check(z.regex(/^[a-zA-Z][a-zA-Z0-9_]{0,63}$/, 'must be a name such as zone or dataDiskSize')), paramSpecSchema), {}),
  /**
   * Present: this template is throttled on its own, per cluster (its own cooldown, budget and
   * in-flight slot), with these overrides. Absent: it shares its cluster's throttle.
   */
  throttle: z.optional(throttleOverrideSchema),
  /** This template's nodes' own provision timeout (a slow image, a long user script); default purchases.provisionTimeoutSeconds. */
  provisionTimeoutSeconds: z.optional(wholeNumber(60, 7200)),
  /**
   * A lease: this template's nodes are given back this long after they were bought, whatever the
   * alarms say (Karpenter's expireAfter), drained like any other and within the guard. Absent: never.
   */
  maxLifetime: z.optional(durationSchema(60, 999_999 * 3600)),
  /**
   * Fallbacks when CVM is sold out (core/rungs.ts): `overridable` lists the RunInstancePara paths
   * the alternatives may replace (e.g. Placement.Zone, VirtualPrivateCloud.SubnetId, InstanceType,
   * InstanceChargeType, SystemDisk.DiskType); `alternatives` are tried in order after the template
   * itself, each replacing some of those values. Checked in template-ladder.ts.
   */
  ladder: z.optional(
    z.strictObject({
      overridable: z
        .array(z.string().check(z.regex(/^[A-Z][A-Za-z0-9]*(\.([A-Za-z0-9_]+))*$/, 'must be a path inside RunInstancePara such as Placement.Zone')))
        .check(z.minLength(1)),
      alternatives: z
        .array(z.record(z.string(), z.unknown()).check(z.refine((a) => Object.keys(a).length > 0, 'an alternative must replace at least one value')))
        .check(z.minLength(1), z.maxLength(8)),
    }),
  ),
});

const bearerAuthSchema = z.strictObject({
  /** Env var holding the token that `Authorization: Bearer <token>` must carry. */
  tokenEnv: secretEnv,
});

const hmacAuthSchema = z.strictObject({
  /** Env var holding the shared secret. */
  secretEnv: secretEnv,
  /** How far the timestamp header may be from now, either way. */
  toleranceSeconds: z._default(wholeNumber(1, 3600), 300),
});

const authSchema = z.union([
  z.literal('none'),
  z
    .strictObject({ bearer: z.optional(bearerAuthSchema), hmac: z.optional(hmacAuthSchema) })
    .check(z.refine((a) => (a.bearer === undefined) !== (a.hmac === undefined), 'set exactly one of bearer or hmac')),
]);

/** Alertmanager can send bearer or basic auth (http_config), not a signature. */
export const alertmanagerSourceSchema = z.strictObject({
  auth: z.union([
    z.literal('none'),
    z
      .strictObject({
        bearer: z.optional(bearerAuthSchema),
        basic: z.optional(z.strictObject({ username: z.string().check(z.minLength(1)), passwordEnv: secretEnv })),
      })
      .check(z.refine((a) => (a.bearer === undefined) !== (a.basic === undefined), 'set exactly one of bearer or basic')),
  ]),
});

/**
 * Grafana's webhook contact point: optional HMAC (hmac_config: hex HMAC-SHA256 of the body, or of
 * "<unix seconds>:<body>" when a timestamp header is configured) or an Authorization header.
 */
export const grafanaSourceSchema = z.strictObject({
  /**
   * TKE attempts in all for Grafana's scale-outs: Grafana never retries a failed webhook within a
   * flush, so the function retries longer (within its time) than for senders that do.
   */
  tkeMaxAttempts: z._default(wholeNumber(1, 20), 8),
  auth: z.union([
    z.literal('none'),
    z
      .strictObject({
        bearer: z.optional(bearerAuthSchema),
        hmac: z.optional(
          z
            .strictObject({
              secretEnv: secretEnv,
              /**
               * hmac_config.header. Grafana's own default when its Header field is left blank is
               * X-Grafana-Alert-Signature (grafana/alerting http/hmac.go, defaultHeaderName); the
               * "X-Grafana-Alerting-Signature" shown in the field is only a placeholder.
               */
              header: z._default(z.string().check(z.regex(/^[A-Za-z0-9-]+$/)), 'X-Grafana-Alert-Signature'),
              /**
               * hmac_config.timestamp_header: the timestamp is signed with the body and must be fresh.
               * Required unless `acceptReplays: true`: without it a captured request verifies forever.
               */
              timestampHeader: z.optional(z.string().check(z.regex(/^[A-Za-z0-9-]+$/))),
              /** Without a timestamp header, say in so many words that replays are accepted. */
              acceptReplays: z.optional(z.literal(true)),
              toleranceSeconds: z._default(wholeNumber(1, 3600), 300),
            })
            .check(
              z.superRefine((hmac, ctx) => {
                if (hmac.timestampHeader === undefined && hmac.acceptReplays !== true) {
                  ctx.addIssue({
                    code: 'custom',
                    path: ['timestampHeader'],
                    message:
                      "is required: Grafana signs the body alone unless its contact point names a timestamp header (HMAC signature → Timestamp header), and a body alone verifies forever, so a captured alert could be re-sent to buy nodes at any later time. Set the same header name here and in Grafana, e.g. X-Grafana-Alerting-Timestamp, or write acceptReplays: true to accept that risk",
                  });
                }
                if (hmac.timestampHeader !== undefined && hmac.acceptReplays !== undefined) {
                  ctx.addIssue({ code: 'custom', path: ['acceptReplays'], message: 'applies only without timestampHeader; remove it' });
                }
              }),
            ),
        ),
      })
      .check(z.refine((a) => (a.bearer === undefined) !== (a.hmac === undefined), 'set exactly one of bearer or hmac')),
  ]),
});

/**
 * Tencent Cloud Monitor's alarm callback cannot sign (248/9066): basic auth in the callback URL, or
 * a token in its query string.
 */
export const tencentMonitorSourceSchema = z.strictObject({
  auth: z.union([
    z.literal('none'),
    z
      .strictObject({
        queryToken: z.optional(z.strictObject({ tokenEnv: secretEnv, param: z._default(z.string().check(z.regex(/^[A-Za-z0-9_-]+$/)), 'token') })),
        basic: z.optional(z.strictObject({ username: z.string().check(z.minLength(1)), passwordEnv: secretEnv })),
      })
      .check(z.refine((a) => (a.queryToken === undefined) !== (a.basic === undefined), 'set exactly one of queryToken or basic')),
  ]),
});

/** Who may scale from a chat: user IDs from an env var (comma-separated), optionally only in some channels. */
const chatAllowSchema = z.prefault(
  z.strictObject({
    usersEnv: z._default(envVarName, 'SCALEOUT_CHAT_ALLOW'),
    /** Channel / chat / conversation IDs; absent: any. */
    channels: z.optional(z.array(z.string().check(z.minLength(1)))),
  }),
  {},
);

/**
 * Where a chat platform's later replies may go: a reply URL a payload names (Slack's response_url,
 * DingTalk's sessionWebhook) is used only under this base. Overridable for tests and private
 * deployments; https in production.
 */
const replyBase = (fallback: string) =>
  z._default(z.string().check(z.regex(/^https?:\/\/[^/\s?#]+(\/[^\s?#]*)?$/, `must be a base URL such as ${fallback}`)), fallback);

/** Slack slash command: v0 signature (X-Slack-Signature) with a 5-minute window. */
export const slackSourceSchema = z.strictObject({
  signingSecretEnv: secretEnv,
  toleranceSeconds: z._default(wholeNumber(1, 3600), 300),
  /** response_url must be under this (api.slack.com: response URLs are on hooks.slack.com). */
  replyBase: replyBase('https://hooks.slack.com'),
  allow: chatAllowSchema,
});

/** Feishu/Lark bot events: verification token, and with an Encrypt Key, encrypted events and X-Lark-Signature. */
export const feishuSourceSchema = z.strictObject({
  verificationTokenEnv: secretEnv,
  encryptKeyEnv: z.optional(secretEnv),
  /**
   * The app's credentials, to post replies (Feishu does not show the callback's answer). Without
   * them the bot acts but stays silent in the chat.
   */
  appIdEnv: z.optional(envVarName),
  appSecretEnv: z.optional(envVarName),
  /** https://open.feishu.cn (Feishu) or https://open.larksuite.com (Lark). */
  apiBase: z._default(z.string().check(z.regex(/^https?:\/\/[^/\s]+$/, 'must be a base URL such as https://open.feishu.cn')), 'https://open.feishu.cn'),
  toleranceSeconds: z._default(wholeNumber(1, 3600), 300),
  allow: chatAllowSchema,
});

/** DingTalk outgoing robot: timestamp + sign headers (HMAC of the timestamp), within an hour. */
export const dingtalkSourceSchema = z.strictObject({
  appSecretEnv: secretEnv,
  toleranceSeconds: z._default(wholeNumber(1, 3600), 3600),
  /** sessionWebhook must be under this (DingTalk: https://oapi.dingtalk.com/robot/sendBySession?session=...). */
  replyBase: replyBase('https://oapi.dingtalk.com'),
  allow: chatAllowSchema,
});

export const genericSourceSchema = z.strictObject({
  /** Required: with no auth the function refuses to start unless this says `none` in so many words. */
  auth: authSchema,
});

export { ALERT_SOURCES, type AlertSourceName } from './alert-sources';

const matchValue = z.union([z.string(), z.array(z.string()).check(z.minLength(1))]);

/** A duration as Alertmanager writes one: 30s, 10m, 1h (seconds, minutes, hours), within bounds. */
const duration = durationSchema;

/**
 * Step sizes (rules/sizing.ts), as AWS step adjustments (StepAdjustment, docs.aws.amazon.com/
 * autoscaling/ec2/APIReference/API_StepAdjustment.html): ranges of how far the value is beyond the
 * threshold, `from` inclusive and `to` exclusive, contiguous, only the last open-ended.
 */
const stepsSchema = z.strictObject({
  /** Where the alarm's value is: a label or an annotation (Alertmanager: e.g. `value: "{{ $value }}"`), or a named value the sender sends (Grafana: a query's refId in `values`; Tencent Cloud Monitor: currentValue). */
  value: z.union([
    z.strictObject({ label: z.string().check(z.minLength(1)) }),
    z.strictObject({ annotation: z.string().check(z.minLength(1)) }),
    z.strictObject({ value: z.string().check(z.minLength(1)) }),
  ]),
  /** The alarm's threshold. Tencent Cloud Monitor sends its own (calcValue, calcType); elsewhere it is required. */
  threshold: z.optional(z.number()),
  /** above: the alarm fires when the value exceeds the threshold (excess = value - threshold); below: when it falls under it. */
  direction: z.optional(z.enum(['above', 'below'])),
  ranges: z
    .array(z.strictObject({ from: z.number().check(z.gte(0)), to: z.optional(z.number()), count: positiveInt(MAX_INSTANCE_COUNT) }))
    .check(
      z.minLength(1),
      z.maxLength(20),
      z.superRefine((ranges, ctx) => {
        ranges.forEach((range, i) => {
          const next = ranges[i + 1];
          if (range.to !== undefined && range.to <= range.from) ctx.addIssue({ code: 'custom', path: [i, 'to'], message: 'must be above from' });
          if (next === undefined) return;
          if (range.to === undefined) ctx.addIssue({ code: 'custom', path: [i, 'to'], message: 'is required: only the last range may be open-ended' });
          else if (next.from !== range.to) ctx.addIssue({ code: 'custom', path: [i + 1, 'from'], message: `must be ${range.to}, where the range before ends: ranges may neither overlap nor leave a gap` });
        });
      }),
    ),
});

/** Count by a severity label: `{ label: severity, counts: { warning: 1, critical: 3 } }`. */
const severitySchema = z.strictObject({
  label: z._default(z.string().check(z.minLength(1)), 'severity'),
  counts: z.record(z.string().check(z.minLength(1)), positiveInt(MAX_INSTANCE_COUNT)).check(z.refine((c) => Object.keys(c).length > 0, 'give at least one severity')),
});

export const ruleSchema = z.strictObject({
  /** Appears in event IDs and logs. */
  name: z.string().check(z.regex(/^[a-z0-9][a-z0-9-]{0,47}$/, 'must be lower-case letters, digits and dashes (at most 48)')),
  /** Which senders' alarms this rule looks at. */
  sources: z.array(z.enum(ALERT_SOURCES)).check(z.minLength(1)),
  /** Every condition given must hold. A value is exact; a list means any of them. */
  match: z
    .strictObject({
      labels: z.optional(z.record(z.string(), matchValue)),
      annotations: z.optional(z.record(z.string(), matchValue)),
      /** Tencent Cloud Monitor alarm policy ID. */
      policyId: z.optional(matchValue),
      /** Tencent Cloud Monitor metric name, e.g. cpu_usage. */
      metric: z.optional(matchValue),
      /** Tencent Cloud Monitor namespace, e.g. QCE/TKE2 (matched without regard to case). */
      namespace: z.optional(matchValue),
      /** Tencent Cloud Monitor event alarms: the event name, e.g. guest_reboot. */
      eventName: z.optional(matchValue),
      /** Tencent Cloud Monitor event alarms: the product, e.g. cvm. */
      product: z.optional(matchValue),
    })
    .check(z.refine((m) => Object.values(m).some((v) => v !== undefined), 'give at least one condition')),
  /**
   * What the rule's alarm asks: buy nodes (`scale-out`, the default), or give the function's nodes
   * back (`scale-in`: a low alarm, e.g. CPU below 40 % for 15 minutes; core/release.ts), sized by the
   * same counts and steps (for a low alarm, `direction: below`: how far the value is under its threshold).
   */
  action: z._default(z.enum(['scale-out', 'scale-in']), 'scale-out'),
  scale: z.strictObject({
    cluster: alias,
    /** Required to scale out; to scale in, only that template's nodes are given back (absent: any of the function's). */
    template: z.optional(alias),
    /**
     * A fixed count; or taken from a label or annotation of the alert; or sized by how far the
     * alarm's value is beyond its threshold (`steps`, as AWS step adjustments); or by a severity
     * label. The template's bounds apply; a value that cannot be read gives `default`, and the
     * answer and the log line say so (rules/sizing.ts).
     */
    count: z.optional(
      z.union([
        positiveInt(MAX_INSTANCE_COUNT),
        z
          .strictObject({
            label: z.optional(z.string()),
            annotation: z.optional(z.string()),
            default: z._default(positiveInt(MAX_INSTANCE_COUNT), 1),
          })
          .check(z.refine((c) => !(c.label !== undefined && c.annotation !== undefined), 'take the count from a label or an annotation, not both')),
        z.strictObject({ steps: stepsSchema, default: z._default(positiveInt(MAX_INSTANCE_COUNT), 1) }),
        z.strictObject({ severity: severitySchema, default: z._default(positiveInt(MAX_INSTANCE_COUNT), 1) }),
      ]),
    ),
  }),
  /**
   * Keep scaling while the alarm keeps firing: each `every` of an episode is a new scale-out (its
   * event ID gains the period), throttled as always; `warmUp` holds a repeat back that long after
   * the episode's last purchase, while new nodes join (rules/plan.ts, scale-out/lifecycle.ts).
   */
  repeat: z.optional(
    z.strictObject({
      every: duration(1, 86_400),
      warmUp: z.optional(duration(0, 86_400)),
    }),
  ),
  /** One scale-out per matching alert, instead of one per rule for the whole group. */
  perAlert: z._default(z.boolean(), false),
  /**
   * A scale-out rule's nodes given back when its alarm resolves (opt-in): for alarms whose end
   * means the need went away (a batch backlog, a scheduled event), not for a utilisation alarm,
   * whose end usually means the new nodes are doing their job (docs/DESIGN.md, "Giving nodes
   * back"). `after`: how long it must stay resolved; firing again meanwhile keeps the nodes.
   */
  release: z.optional(z.strictObject({ onResolve: z.literal(true), after: z._default(durationSchema(0, 86_400), '10m') })),
});

/**
 * Where notices go (notify/): named sinks, each a team channel's webhook with its URL (and secret)
 * in env vars, since an incoming webhook's URL is its credential; and which sinks hear about what.
 */
const sinkName = z.string().check(z.regex(/^[a-z0-9][a-z0-9-]{0,47}$/, 'must be lower-case letters, digits and dashes (at most 48)'));
const sinkCommon = {
  /** Env var holding the webhook's URL (Slack's hooks.slack.com/services/..., DingTalk's ...?access_token=...). */
  urlEnv: envVarName,
  /** This sink's language, over `notify.language`. */
  language: z.optional(z.enum(LANGUAGES)),
  /** Which notices it gets; absent: all of them. */
  events: z.optional(z.array(z.enum(NOTICE_KINDS)).check(z.minLength(1))),
};
const sinkSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('slack'), ...sinkCommon }),
  /** Feishu custom bot; `secretEnv` when the bot has signature verification (签名校验) on. */
  z.strictObject({ type: z.literal('feishu'), ...sinkCommon, secretEnv: z.optional(envVarName) }),
  /** DingTalk custom robot; `secretEnv` when its security setting is 加签 (signing). */
  z.strictObject({ type: z.literal('dingtalk'), ...sinkCommon, secretEnv: z.optional(envVarName) }),
  z.strictObject({ type: z.literal('wecom'), ...sinkCommon }),
  /** Anything else: a JSON POST signed as Standard Webhooks sign (webhook-id, -timestamp, -signature). */
  z.strictObject({ type: z.literal('webhook'), ...sinkCommon, secretEnv: envVarName }),
]);
const sinkList = z.array(sinkName).check(z.minLength(1));

export const notifySchema = z.strictObject({
  /** The language of messages: en or zh. */
  language: z._default(z.enum(LANGUAGES), 'en'),
  sinks: z.record(sinkName, sinkSchema).check(
    z.refine((s) => Object.keys(s).length > 0, 'declare at least one sink'),
    // The chat a command came from is a sink of its own by that name (notify/sinks/conversation.ts).
    z.refine((s) => !('conversation' in s), 'the name "conversation" is the chat a command came from; choose another'),
  ),
  /** Sinks for a notice no rule or cluster route names. */
  default: z._default(z.array(sinkName), []),
  /** Per cluster alias: its notices go to these sinks instead of the default. */
  clusters: z._default(z.record(alias, sinkList), {}),
  /** Per rule name: the notices of what its alarms bought go to these sinks, before the cluster's. */
  rules: z._default(z.record(z.string(), sinkList), {}),
  /** The link to a cluster's node list; `{clusterId}` and `{region}` are filled in. */
  consoleLink: z.optional(z.string().check(z.regex(/^https?:\/\/\S+$/, 'must be an http(s) URL'))),
  /**
   * How long a scale-out's answer may wait for its notices to be posted; what is not posted by
   * then is posted by the next timer pass. Small: a notice never costs a scale-out its answer.
   */
  sendWithinMs: z._default(wholeNumber(0, 2_000), 800),
  /** How long an undelivered notice is retried (by the timer pass, with back-off) before it is logged as undelivered. */
  retryForSeconds: z._default(wholeNumber(60, 7 * 86_400), 6 * 3600),
});

export const configSchema = z.strictObject({
  clusters: z.record(alias, clusterSchema).check(z.refine((c) => Object.keys(c).length > 0, 'declare at least one cluster')),
  templates: z.record(alias, templateSchema).check(z.refine((t) => Object.keys(t).length > 0, 'declare at least one template')),
  sources: z.strictObject({
    generic: z.optional(genericSourceSchema),
    alertmanager: z.optional(alertmanagerSourceSchema),
    grafana: z.optional(grafanaSourceSchema),
    'tencent-monitor': z.optional(tencentMonitorSourceSchema),
    slack: z.optional(slackSourceSchema),
    feishu: z.optional(feishuSourceSchema),
    dingtalk: z.optional(dingtalkSourceSchema),
  }),
  /** Which alarms scale which cluster (alert senders only). */
  rules: z._default(z.array(ruleSchema), []),
  throttle: throttleDefaultsSchema,
  limits: z.prefault(
    z.strictObject({
      // A chat command or a script's call is a few KB: anything larger is refused before it is
      // parsed.
      maxBodyBytes: z._default(wholeNumber(1024, SCF_REQUEST_LIMIT_BYTES), 64 * 1024),
      // Alarm senders (Alertmanager, Grafana, Tencent Cloud Monitor) send whole groups: Alertmanager's
      // max_alerts defaults to 0, no limit, and a group of ~1,200 alerts is ~320 KB. A 413 would come
      // back at every group_interval, so they get SCF's own limit for a synchronous request (6 MB).
      maxAlarmBodyBytes: z._default(wholeNumber(1024, SCF_REQUEST_LIMIT_BYTES), SCF_REQUEST_LIMIT_BYTES),
    }),
    {},
  ),
  store: z.prefault(
    z.strictObject({
      /** Prepended to every Redis key, so several deployments can share one Redis. */
      keyPrefix: z._default(z.string().check(z.regex(/^[A-Za-z0-9:_.-]{0,64}$/, 'must be letters, digits and : _ . - (at most 64)')), 'tke-scaleout:'),
      /** Upper bound for one Redis command: a hung Redis cannot eat the function's time. */
      commandTimeoutMs: z._default(wholeNumber(50, 10_000), 500),
      /**
       * Serve from a Redis whose maxmemory-policy may evict keys (any but noeviction). Off: such a
       * Redis is refused, since an evicted record means nodes bought twice or a budget reset.
       */
      acceptEvictingPolicy: z._default(z.boolean(), false),
    }),
    {},
  ),
  /**
   * /healthz answers its status and whether the store answers to anyone; the config summary
   * (clusters, templates, throttle settings, senders, where TKE calls go) only with
   * `Authorization: Bearer <token>`, the token in this env var. Absent: to no one.
   */
  health: z.optional(z.strictObject({ tokenEnv: secretEnv })),
  /** Notices to the team's channels (notify/): absent, the function tells no one but its log. */
  notify: z.optional(notifySchema),
  /** Giving the function's nodes back, drained (core/release.ts): the defaults every cluster with `kubernetes` uses. */
  release: releaseDefaultsSchema,
  idempotency: z.prefault(
    z.strictObject({
      /**
       * How long a handled event is remembered and replayed, and a request that may have bought is
       * kept for re-sending: at least every budget's window (checked), so up to a money window's 31 days.
       */
      ttlSeconds: z._default(wholeNumber(60, 31 * 24 * 3600), 24 * 3600),
    }),
    {},
  ),
  /**
   * Money every cluster's scale-outs may commit together, per window (core/cost-budget.ts), on top
   * of each cluster's own `costBudget`. Absent: clusters are budgeted on their own (or not at all).
   */
  costBudget: z.optional(costBudgetSchema),
  /** What the function bought (core/marks.ts): how its nodes are marked. */
  purchases: z.prefault(
    z.strictObject({
      /**
       * Who bought it, on every node's labels and instance's tags (`tke-scaleout/owner`): one value
       * per deployment, so that two deployments in one account never take each other's nodes. A
       * Kubernetes label value: at most 63 characters of letters, digits and `-_.`, alphanumeric at
       * both ends.
       */
      owner: z._default(z.string().check(z.regex(LABEL_VALUE, 'a label value: at most 63 of A-Z a-z 0-9 - _ ., a letter or digit at both ends')), 'tke-scaleout'),
      /** How long a purchase's record is kept after it ended (ready, or cleaned up), for `GET /purchases`. */
      retentionDays: z._default(wholeNumber(1, 90), 7),
      /**
       * A purchase whose nodes are not all running this long after it is failed (cluster-autoscaler's
       * --max-node-provision-time and Karpenter's registration TTL are both 15 minutes).
       */
      provisionTimeoutSeconds: z._default(wholeNumber(60, 7200), 900),
    }),
    {},
  ),
  /** Sold-out memory shared by every instance (core/sold-out.ts). */
  capacity: z.prefault(
    z.strictObject({
      /** How long a rung refused for capacity is skipped by every instance before it is tried again. */
      soldOutSeconds: z._default(wholeNumber(10, 86_400), 900),
    }),
    {},
  ),
  /** Prices from CVM InquiryPriceRunInstances, for clusters with a costBudget. */
  pricing: z.prefault(
    z.strictObject({
      /** How long a price is reused (InquiryPriceRunInstances allows about 10 requests a second). */
      cacheSeconds: z._default(wholeNumber(0, 86_400), 300),
      /** One price inquiry at most; no price in time means no purchase (fail closed). */
      timeoutMs: z._default(wholeNumber(100, 30_000), 3_000),
    }),
    {},
  ),
  tke: z.prefault(
    z.strictObject({
      /** Attempts in all, first call included, for retryable failures. */
      maxAttempts: z._default(wholeNumber(1, 10), 4),
      /** First backoff; doubles each attempt, with full jitter, capped by maxDelayMs. */
      baseDelayMs: z._default(wholeNumber(10, 10_000), 200),
      maxDelayMs: z._default(wholeNumber(10, 60_000), 2_000),
      /** One attempt may take at most this long (and never past the function's deadline). */
      attemptTimeoutMs: z._default(wholeNumber(100, 120_000), 8_000),
      /** Time left for the call when the runtime does not say how long the function has. */
      fallbackDeadlineMs: z._default(wholeNumber(1_000, 900_000), 25_000),
    }),
    {},
  ),
});

export type RawConfig = z.infer<typeof configSchema>;
export type GenericSourceConfig = z.infer<typeof genericSourceSchema>;
export type AlertmanagerSourceConfig = z.infer<typeof alertmanagerSourceSchema>;
export type GrafanaSourceConfig = z.infer<typeof grafanaSourceSchema>;
export type TencentMonitorSourceConfig = z.infer<typeof tencentMonitorSourceSchema>;
export type SlackSourceConfig = z.infer<typeof slackSourceSchema>;
export type FeishuSourceConfig = z.infer<typeof feishuSourceSchema>;
export type DingtalkSourceConfig = z.infer<typeof dingtalkSourceSchema>;
export type NotifyConfig = z.infer<typeof notifySchema>;
export type SinkConfig = NotifyConfig['sinks'][string];
export type ChatAllowConfig = z.infer<typeof chatAllowSchema>;
export type RuleInput = z.infer<typeof ruleSchema>;
export type StepsInput = z.infer<typeof stepsSchema>;
export type CostBudgetInput = z.infer<typeof costBudgetSchema>;
