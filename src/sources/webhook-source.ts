import type { WebhookRequest } from '../http/webhook-request';
import type { ScaleOutRequest } from '../core/scale-out-request';

/**
 * One sender (Alertmanager, Grafana, a chat bot, the generic JSON call) behind one interface: each
 * lives in its own file in this folder and is chosen by name in `sources/index.ts`.
 *
 * The pipeline calls `authenticate` on the raw request before anything is parsed, then `normalize`.
 * Everything after that (decide, render, call) is shared and knows nothing of the sender's format.
 */
export interface WebhookSource {
  /** The `<source>` in `/hooks/<source>`. */
  readonly name: string;
  /** Throws UnauthorizedError (401) or SenderNotConfiguredError (503). `now` is epoch ms. */
  authenticate(request: WebhookRequest, now: number): void;
  /** Throws BadRequestError / UnsupportedMediaTypeError for a payload that is not this sender's shape. */
  normalize(request: WebhookRequest): ScaleOutRequest;
}
