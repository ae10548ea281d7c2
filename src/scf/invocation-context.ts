import type { Context as LambdaContext } from 'aws-lambda';
import type { DecisionRecord } from '../scale-out/decision-record';
import type { WebhookRequest } from '../http/webhook-request';

/**
 * The context SCF passes, plus what our middlewares add for the handler. middy's types want AWS
 * Lambda's Context (hence @types/aws-lambda); SCF's has other fields and may lack
 * getRemainingTimeInMillis, so every field we read is checked at run time.
 */
export interface InvocationContext extends LambdaContext {
  /** SCF: the function's timeout in ms. */
  time_limit_in_ms?: number;
  /** SCF: this invocation's ID. */
  request_id?: string;
  /** Set by decisionLog. */
  startedAt: number;
  decision: DecisionRecord;
  /** Set by scfHttpRequest. */
  webhook: WebhookRequest;
  deadline: number;
  timeoutAt: number;
}
