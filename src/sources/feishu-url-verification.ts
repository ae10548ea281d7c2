import { readFileSync } from 'node:fs';
import { constantTimeEquals } from '../auth/constant-time';
import { decryptFeishu } from '../auth/feishu-crypto';
import { configPathFor } from '../config/config-path';
import { isJsonObject } from '../http/json-body';

/**
 * Feishu's `url_verification` challenge, answered before the function is built.
 *
 * Feishu wants the challenge echoed within 1 second (3 s is for events; open.feishu.cn, event
 * subscription: "需在 1 秒内以 HTTP 200 状态码响应该请求"), and it comes when the request URL is
 * saved, i.e. usually to a cold instance. Building the function (the config schema, the SDK
 * client, the store, every sender) is most of a cold start and none of it is needed to echo a
 * challenge: so src/index.ts asks this first, and loads the rest only for anything else.
 *
 * It reads only what the challenge needs: the packaged config's `sources.feishu` env var names
 * (plain JSON, not validated here: the full cold start validates it for everything else) and the
 * verification token(s) and Encrypt Key(s) they name. Anything it is not sure of (YAML config, no
 * Feishu section, a body that is not a challenge, a wrong token) returns undefined, and the full
 * function answers as it always does, 401s included.
 */
export interface FastAnswer {
  readonly isBase64Encoded: false;
  readonly statusCode: 200;
  readonly headers: Record<string, string>;
  readonly body: string;
}

const MAX_CHALLENGE_BYTES = 64 * 1024;
const FEISHU_PATH = /(?:^|\/)hooks\/feishu\/?$/;

let feishuEnvNames: { tokens: readonly string[]; keys?: readonly string[] } | null | undefined;

export function feishuUrlVerification(event: unknown, env: NodeJS.ProcessEnv): FastAnswer | undefined {
  if (!isJsonObject(event) || typeof event.httpMethod !== 'string' || event.httpMethod.toUpperCase() !== 'POST') return undefined;
  if (typeof event.path !== 'string' || !FEISHU_PATH.test(event.path) || typeof event.body !== 'string') return undefined;
  if (event.body.length > MAX_CHALLENGE_BYTES) return undefined;
  if (feishuEnvNames === undefined) feishuEnvNames = readFeishuEnvNames(env); // read once per instance
  const names = feishuEnvNames;
  if (names === null) return undefined;

  const text = event.isBase64Encoded === true ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
  let payload = parse(text);
  if (!isJsonObject(payload)) return undefined;
  const keys = secretsOf(names.keys ?? [], env);
  if (typeof payload.encrypt === 'string') {
    const encrypted = payload.encrypt;
    payload = undefined;
    for (const key of keys) {
      try {
        payload = parse(decryptFeishu(encrypted, key));
      } catch {
        continue;
      }
      if (isJsonObject(payload)) break;
    }
    if (!isJsonObject(payload)) return undefined;
  } else if (names.keys !== undefined) {
    return undefined; // with an Encrypt Key, Feishu encrypts the challenge too
  }
  if (payload.type !== 'url_verification' || typeof payload.challenge !== 'string' || typeof payload.token !== 'string') return undefined;
  const token = payload.token;
  if (!secretsOf(names.tokens, env).some((expected) => constantTimeEquals(token, expected))) return undefined;

  // The one log line of this request, in the shape every decision line has.
  process.stdout.write(
    `${JSON.stringify({ level: 'info', time: new Date().toISOString(), service: 'tke-scaleout', source: 'feishu', outcome: 'answered', note: 'url_verification, answered before the cold start', status: 200, msg: 'scale-out decision' })}\n`,
  );
  return {
    isBase64Encoded: false,
    statusCode: 200,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' },
    body: JSON.stringify({ challenge: payload.challenge }),
  };
}

/** The env var names of the packaged JSON config's Feishu section; null when there is none to read. */
function readFeishuEnvNames(env: NodeJS.ProcessEnv): { tokens: readonly string[]; keys?: readonly string[] } | null {
  const path = configPathFor(env);
  if (!path.endsWith('.json')) return null;
  let config: unknown;
  try {
    config = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return null;
  }
  const feishu = isJsonObject(config) && isJsonObject(config.sources) ? config.sources.feishu : undefined;
  if (!isJsonObject(feishu)) return null;
  const tokens = namesOf(feishu.verificationTokenEnv);
  if (tokens === undefined) return null;
  const keys = feishu.encryptKeyEnv === undefined ? undefined : namesOf(feishu.encryptKeyEnv);
  if (feishu.encryptKeyEnv !== undefined && keys === undefined) return null;
  return { tokens, ...(keys !== undefined && { keys }) };
}

function namesOf(value: unknown): readonly string[] | undefined {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value as string[];
  return undefined;
}

/** As the full function reads them: empty or whitespace-only is no secret. */
function secretsOf(names: readonly string[], env: NodeJS.ProcessEnv): string[] {
  return names.map((n) => env[n]).filter((v): v is string => v !== undefined && v.trim() !== '');
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
