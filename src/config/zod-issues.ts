import type * as z from 'zod';

/**
 * How a zod issue is put in words, the same for the config (config/format-issues.ts) and for a
 * sender's payload (sources/payload-error.ts, the generic sender): where (a dotted path) and
 * whether the value is simply missing.
 */
export function dotted(path: readonly PropertyKey[], whole = '(top level)'): string {
  return path.length === 0 ? whole : path.map(String).join('.');
}

/** The value is absent (not of a wrong type): say "is required", not zod's "expected string, received undefined". */
export function isMissing(issue: z.core.$ZodIssue): boolean {
  return issue.code === 'invalid_type' && issue.input === undefined;
}
