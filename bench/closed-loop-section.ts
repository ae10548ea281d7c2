/**
 * The closed loop's section of docs/PERFORMANCE.md, between two markers: `npm run closed-loop`
 * (bench/closed-loop.ts) writes it, `npm run bench` (bench.ts) keeps it as it finds it, since the
 * loop runs the function in-process against the sandboxes and measures no time, which the bench's
 * figures are about. Nothing here runs the loop.
 */
export const CLOSED_LOOP_START = '<!-- closed-loop: written by `npm run closed-loop` (bench/closed-loop.ts); `npm run bench` keeps it -->';
export const CLOSED_LOOP_END = '<!-- closed-loop-end -->';

/** The section as found in a page (markers included), or undefined. */
export function closedLoopSectionOf(page: string): string | undefined {
  const from = page.indexOf(CLOSED_LOOP_START);
  const to = page.indexOf(CLOSED_LOOP_END);
  if (from < 0 || to < from) return undefined;
  return page.slice(from, to + CLOSED_LOOP_END.length);
}

/**
 * The page with `section` (markers included) in place of the one it has, or, in a page without one,
 * before `before` (the hand-written notes' first line), or at the end.
 */
export function withClosedLoopSection(page: string, section: string, before: string): string {
  const current = closedLoopSectionOf(page);
  if (current !== undefined) return page.replace(current, () => section);
  const at = page.indexOf(before);
  if (at < 0) return `${page.replace(/\n*$/, '\n\n')}${section}\n`;
  return `${page.slice(0, at)}${section}\n\n${page.slice(at)}`;
}
