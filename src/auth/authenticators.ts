import { SenderNotConfiguredError, UnauthorizedError } from '../errors';
import type { WebhookRequest } from '../http/webhook-request';
import { verifyBasic } from './basic';
import { verifyBearer } from './bearer';

/** What a sender's `authenticate` is: throws 401 (or 503), returns nothing. */
export type Authenticate = (request: WebhookRequest, now: number) => void;

/** `auth: none`, which the config must say in so many words. */
export const noAuthentication: Authenticate = () => undefined;

/**
 * A sender's secret env vars, as the config names them: one name, or a list whose first is the
 * current secret and the rest earlier ones still accepted while a rotation is under way (octokit's
 * `additionalSecrets`). Read once, at cold start.
 */
export type SecretEnv = string | readonly string[];

/**
 * The secrets behind `envVars`, current first. A secret that is empty or only whitespace is no
 * secret: the current one missing makes the sender answer 503 naming the variable (the deployment
 * is wrong, not the caller); a previous one missing is skipped (it is removed after a rotation).
 */
export function readSecrets(source: string, envVars: SecretEnv, env: NodeJS.ProcessEnv): { readonly secrets: readonly string[]; readonly missing?: SenderNotConfiguredError } {
  const [current, ...previous] = typeof envVars === 'string' ? [envVars] : envVars;
  const usable = (name: string | undefined) => {
    const value = name === undefined ? undefined : env[name];
    return value !== undefined && value.trim() !== '' ? value : undefined;
  };
  const first = usable(current);
  if (first === undefined) {
    const blank = current !== undefined && env[current] !== undefined && env[current] !== '';
    return { secrets: [], missing: new SenderNotConfiguredError(source, current ?? '(none named)', blank) };
  }
  return { secrets: [first, ...previous.map(usable).filter((v): v is string => v !== undefined)] };
}

/**
 * Verifies a request with a sender's secret(s): `check` throws UnauthorizedError for a secret that
 * does not verify it; the request is accepted when any of the current and previous secrets does.
 */
export function withSecret(
  source: string,
  envVars: SecretEnv,
  env: NodeJS.ProcessEnv,
  check: (request: WebhookRequest, now: number, secret: string) => void,
): Authenticate {
  const { secrets, missing } = readSecrets(source, envVars, env);
  return (request, now) => {
    if (missing !== undefined) throw missing;
    verifyWithFallback(secrets, (secret) => check(request, now, secret));
  };
}

/** The first secret's verdict unless another one accepts: the error the caller sees is the current secret's. */
export function verifyWithFallback(secrets: readonly string[], check: (secret: string) => void): void {
  let firstError: unknown;
  for (const secret of secrets) {
    try {
      check(secret);
      return;
    } catch (error) {
      if (!(error instanceof UnauthorizedError)) throw error;
      firstError ??= error;
    }
  }
  throw firstError ?? new UnauthorizedError('no secret to verify with');
}

export function bearerAuthentication(source: string, config: { tokenEnv: SecretEnv }, env: NodeJS.ProcessEnv): Authenticate {
  return withSecret(source, config.tokenEnv, env, (request, _now, token) => verifyBearer(request.headers.authorization, token));
}

export function basicAuthentication(source: string, config: { username: string; passwordEnv: SecretEnv }, env: NodeJS.ProcessEnv): Authenticate {
  return withSecret(source, config.passwordEnv, env, (request, _now, password) => verifyBasic(request.headers.authorization, config.username, password));
}
