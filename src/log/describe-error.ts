import { ScaleOutError } from '../errors';

/**
 * How an error appears in the log line, the same wherever it ended something: one scale-out
 * (scale-out/decision-record.ts), a request before any scale-out (scale-out-app.ts), or the
 * invocation itself (scf/decision-log.ts, which also sees bugs). Fields are chosen, never dumped.
 */
export interface ErrorFields {
  readonly code: string;
  readonly message: string;
  /** The HTTP status the error was answered with. */
  readonly status: number;
  /**
   * 5xx only: what failed underneath. Our own failures keep their chain (a transport or Redis error
   * names host and port, which the answer hides); a 4xx is the sender's doing and needs none.
   */
  readonly cause?: string;
  /** A bug (anything not of the error family): where it happened. */
  readonly stack?: string;
}

/**
 * `status` is the answer's: an error of the family is answered with its own
 * (http/error-response.ts), anything else with a 5xx.
 */
export function describeError(error: Error, status: number = error instanceof ScaleOutError ? error.status : 500): ErrorFields {
  const ours = error instanceof ScaleOutError;
  const cause = (error as { cause?: unknown }).cause;
  return {
    code: ours ? error.code : 'InternalError',
    message: error.message,
    status,
    ...(status >= 500 && cause instanceof Error && { cause: cause.message }),
    ...(status >= 500 && !ours && { stack: error.stack }),
  };
}
