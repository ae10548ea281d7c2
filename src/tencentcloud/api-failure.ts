/**
 * How a Tencent Cloud API call failed, read off what the official SDKs throw: one exception class,
 * not exported from the packages' roots, carrying `code` (the API's error code), `message`,
 * `requestId` and `httpCode` (a non-200 status); a network failure carries no code
 * (docs/PLATFORM.md). Used for TKE (tke/call-tke.ts) and SCF (deploy/).
 */
export interface ApiFailure {
  /** The API's error code; absent when no API answer arrived. */
  readonly code?: string;
  /** Set when the endpoint answered with a status other than 200. */
  readonly httpCode?: number;
  readonly requestId?: string;
  readonly message: string;
}

export function describeApiFailure(error: unknown): ApiFailure {
  const e = (error ?? {}) as { code?: unknown; httpCode?: unknown; requestId?: unknown; message?: unknown };
  return {
    ...(typeof e.code === 'string' && e.code !== '' && { code: e.code }),
    ...(typeof e.httpCode === 'number' && { httpCode: e.httpCode }),
    ...(typeof e.requestId === 'string' && e.requestId !== '' && { requestId: e.requestId }),
    message: typeof e.message === 'string' ? e.message : String(error),
  };
}
