import type { z } from 'zod';
import { BadRequestError } from '../errors';

/** 400 naming the first thing a payload lacks: `not <what>: alerts.0.fingerprint: is required`. */
export function invalidPayload(what: string, error: z.ZodError): BadRequestError {
  const issue = error.issues[0]!;
  const where = issue.path.length === 0 ? 'body' : issue.path.join('.');
  const message = issue.code === 'invalid_type' && issue.input === undefined ? 'is required' : issue.message;
  return new BadRequestError('InvalidPayload', `not ${what}: ${where}: ${message}`);
}
