import type { MiddlewareObj } from '@middy/core';
import { errorReply } from '../http/error-response';
import { toScfResponse, type ScfHttpEvent, type ScfHttpResponse } from '../http/scf-event';
import type { InvocationContext } from './invocation-context';

/** Turns any error into the SCF response `http/error-response.ts` says it maps to. */
export function httpErrorResponse(): MiddlewareObj<ScfHttpEvent, ScfHttpResponse, Error, InvocationContext> {
  return {
    onError: function httpErrorResponseOnError(request) {
      request.response = toScfResponse(errorReply(request.error));
    },
  };
}
