import type * as z from 'zod';
import { spellingHint } from './spelling-hints';
import { dotted, isMissing } from './zod-issues';

/** One line per problem the schema found: `path.to.key: what was expected`, with a spelling hint for unknown keys. */
export function formatIssues(issues: readonly z.core.$ZodIssue[], prefix: PropertyKey[] = []): string[] {
  const lines: string[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...issue.path];
    if (issue.code === 'invalid_union') {
      // Report the branch that got furthest (deepest path); e.g. `auth: {bearer: {tokenEnvv}}`
      // should talk about tokenEnvv, not about "expected 'none'".
      const best = [...issue.errors].sort((a, b) => depth(b) - depth(a))[0] ?? [];
      if (depth(best) === 0) {
        lines.push(`${dotted(path)}: ${describeMissing(issue.input) ?? 'has the wrong form'}; ${issue.message === 'Invalid input' ? 'see the config reference in README.md' : issue.message}`);
      } else {
        lines.push(...formatIssues(best, path));
      }
    } else if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        lines.push(`${dotted([...path, key])}: unknown key${spellingHint(key, issue)}`);
      }
    } else if (issue.code === 'invalid_key') {
      lines.push(`${dotted(path)}: invalid name: ${issue.issues.map((i) => i.message).join('; ')}`);
    } else if (isMissing(issue) && issue.code === 'invalid_type') {
      lines.push(`${dotted(path)}: is required (expected ${issue.expected})`);
    } else {
      lines.push(`${dotted(path)}: ${issue.message}`);
    }
  }
  return lines;
}

function depth(branch: readonly z.core.$ZodIssue[]): number {
  return Math.max(0, ...branch.map((i) => i.path.length + (i.code === 'unrecognized_keys' ? 1 : 0)));
}

function describeMissing(input: unknown): string | undefined {
  return input === undefined ? 'is required' : undefined;
}
