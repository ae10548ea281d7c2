import type * as z from '../config/zod';
import { dotted, isMissing } from '../config/zod-issues';
import { BadRequestError } from '../errors';

/** 400 naming the first thing a payload lacks: `not <what>: alerts.0.fingerprint: is required`. */
export function invalidPayload(what: string, error: z.core.$ZodError): BadRequestError {
  const issue = error.issues[0]!;
  return new BadRequestError('InvalidPayload', `not ${what}: ${dotted(issue.path, 'body')}: ${isMissing(issue) ? 'is required' : issue.message}`);
}
