import { SenderNotConfiguredError } from '../errors';
import type { WebhookRequest } from '../http/webhook-request';
import { verifyBasic } from './basic';
import { verifyBearer } from './bearer';

/** What a sender's `authenticate` is: throws 401 (or 503), returns nothing. */
export type Authenticate = (request: WebhookRequest, now: number) => void;

/** `auth: none`, which the config must say in so many words. */
export const noAuthentication: Authenticate = () => undefined;

/**
 * Reads a sender's secret from the env var the config names, once, at cold start. Unset, every
 * request answers 503 naming the variable (the deployment is wrong, not the caller); set, `check`
 * verifies the request with it.
 */
export function withSecret(
  source: string,
  envVar: string,
  env: NodeJS.ProcessEnv,
  check: (request: WebhookRequest, now: number, secret: string) => void,
): Authenticate {
  const secret = env[envVar];
  return (request, now) => {
    if (secret === undefined || secret === '') throw new SenderNotConfiguredError(source, envVar);
    check(request, now, secret);
  };
}

export function bearerAuthentication(source: string, config: { tokenEnv: string }, env: NodeJS.ProcessEnv): Authenticate {
  return withSecret(source, config.tokenEnv, env, (request, _now, token) => verifyBearer(request.headers.authorization, token));
}

export function basicAuthentication(source: string, config: { username: string; passwordEnv: string }, env: NodeJS.ProcessEnv): Authenticate {
  return withSecret(source, config.passwordEnv, env, (request, _now, password) => verifyBasic(request.headers.authorization, config.username, password));
}
