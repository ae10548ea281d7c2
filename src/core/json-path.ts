/**
 * Dot paths such as `RunInstancePara.DataDisks.1.DiskSize`: where a template param writes.
 * Paths come from the operator's config, never from an event, and are checked at cold start;
 * the guards against prototype keys are a second line of defence.
 */

const FORBIDDEN_SEGMENTS = new Set(['__proto__', 'constructor', 'prototype']);

export type PathSegment = string | number;

export function parsePath(path: string): PathSegment[] {
  return path.split('.').map((segment) => (/^\d+$/.test(segment) ? Number(segment) : segment));
}

export function isForbiddenSegment(segment: PathSegment): boolean {
  return typeof segment === 'string' && FORBIDDEN_SEGMENTS.has(segment);
}

/**
 * Why `segments` cannot be written into `root`, or undefined when it can. Objects along the way may
 * be missing (they are created); an array index must already exist, so that a param can only
 * change a disk the template declares, never invent one.
 */
export function pathProblem(root: unknown, segments: readonly PathSegment[]): string | undefined {
  let node: unknown = root;
  for (const [i, segment] of segments.entries()) {
    if (isForbiddenSegment(segment)) return `segment ${String(segment)} is not allowed`;
    const isLast = i === segments.length - 1;
    if (typeof segment === 'number') {
      if (!Array.isArray(node)) return `segment ${segment} indexes something that is not a list in the template`;
      if (segment >= node.length) return `index ${segment} is past the end of a list of ${node.length} in the template`;
    } else if (node !== undefined && (typeof node !== 'object' || node === null || Array.isArray(node))) {
      return `segment ${segment} goes into something that is not an object in the template`;
    }
    if (isLast) return undefined;
    node = node === undefined ? undefined : (node as Record<string | number, unknown>)[segment];
    if (node === undefined && typeof segments[i + 1] === 'number') {
      return `segment ${String(segments[i + 1])} indexes a list the template does not have`;
    }
  }
  return undefined;
}

/** Writes `value` at `segments` inside `root` (mutates; callers pass a fresh clone). */
export function writeAt(root: Record<string, unknown>, segments: readonly PathSegment[], value: unknown): void {
  let node: Record<string | number, unknown> = root;
  for (const [i, segment] of segments.entries()) {
    if (isForbiddenSegment(segment)) throw new Error(`refusing to write path segment ${String(segment)}`);
    if (i === segments.length - 1) {
      node[segment] = value;
      return;
    }
    let next = node[segment];
    if (next === undefined) {
      next = {};
      node[segment] = next;
    }
    node = next as Record<string | number, unknown>;
  }
}

/** Removes what `segments` points at inside `root`, if anything (mutates; callers pass a fresh clone). */
export function deleteAt(root: Record<string, unknown>, segments: readonly PathSegment[]): void {
  let node: unknown = root;
  for (const [i, segment] of segments.entries()) {
    if (isForbiddenSegment(segment)) throw new Error(`refusing to delete path segment ${String(segment)}`);
    if (node === null || typeof node !== 'object') return;
    if (i === segments.length - 1) {
      delete (node as Record<string | number, unknown>)[segment];
      return;
    }
    node = (node as Record<string | number, unknown>)[segment];
  }
}
