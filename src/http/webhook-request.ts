/**
 * One HTTP request as the function sees it, whichever SCF trigger delivered it
 * (scf/event.ts builds it). Header names are lower-case; the body is the raw bytes, because
 * signatures are computed over exactly those.
 */
export interface WebhookRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly query: Readonly<Record<string, string>>;
  readonly rawBody: Buffer;
  readonly sourceIp?: string;
}

/** The answer before it becomes SCF's integration response (scf/event.ts). */
export interface HttpAnswer {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body: unknown;
  /** For the log line only, never sent: e.g. why a chat reply could not be posted. */
  readonly note?: string;
}
