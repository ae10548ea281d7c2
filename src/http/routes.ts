import { MethodNotAllowedError, NotFoundError } from '../errors';

export type Route = { readonly kind: 'hook'; readonly source: string } | { readonly kind: 'healthz' } | { readonly kind: 'purchases' };

// Anything before /hooks/ is ignored: API Gateway adds its stage (`/release/...`), a Function URL
// or a TSE gateway may add its own prefix.
const HOOK_PATH = /(?:^|\/)hooks\/([^/]+)\/?$/;
const HEALTHZ_PATH = /(?:^|\/)healthz\/?$/;
const PURCHASES_PATH = /(?:^|\/)purchases\/?$/;

/** `hookMethods`: the methods a sender takes (POST, and for some a verification GET). */
export function routeOf(method: string, path: string, hookMethods: (source: string) => readonly string[] = () => ['POST']): Route {
  const hook = HOOK_PATH.exec(path);
  if (hook !== null) {
    const source = decodeURIComponentSafe(hook[1]!);
    const allowed = hookMethods(source);
    if (!allowed.includes(method)) throw new MethodNotAllowedError(method, allowed);
    return { kind: 'hook', source };
  }
  if (HEALTHZ_PATH.test(path)) {
    if (method !== 'GET' && method !== 'HEAD') throw new MethodNotAllowedError(method, ['GET', 'HEAD']);
    return { kind: 'healthz' };
  }
  if (PURCHASES_PATH.test(path)) {
    if (method !== 'GET' && method !== 'HEAD') throw new MethodNotAllowedError(method, ['GET', 'HEAD']);
    return { kind: 'purchases' };
  }
  throw new NotFoundError('UnknownRoute', 'no such route; senders post to …/hooks/<source>, GET …/healthz reports status, GET …/purchases lists what was bought');
}

/** The `<source>` of a `…/hooks/<source>` path, or undefined for any other path. */
export function hookSourceOf(path: string): string | undefined {
  const hook = HOOK_PATH.exec(path);
  return hook === null ? undefined : decodeURIComponentSafe(hook[1]!);
}

function decodeURIComponentSafe(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
