import { CLOSED_LOOP_END, CLOSED_LOOP_START, closedLoopSectionOf, withClosedLoopSection } from '../../../bench/closed-loop-section';

/** The closed loop's section of docs/PERFORMANCE.md: `npm run closed-loop` writes it, `npm run bench` keeps it. */
describe("the closed loop's section of the performance page", () => {
  const section = (text: string) => `${CLOSED_LOOP_START}\n## Closed loop\n\n${text}\n${CLOSED_LOOP_END}`;
  const notes = '## What the numbers say, and what was done about them';

  it('goes before the hand-written notes in a page without one, and replaces itself, and only itself, afterwards', () => {
    const page = `# Performance\n\n| figure |\n\n## Hot path\n\nfigures $& $1\n\n${notes}\n\nhand-written\n`;
    const first = withClosedLoopSection(page, section('ratio 1.30'), notes);
    expect(first).toBe(`# Performance\n\n| figure |\n\n## Hot path\n\nfigures $& $1\n\n${section('ratio 1.30')}\n\n${notes}\n\nhand-written\n`);
    const second = withClosedLoopSection(first, section('ratio $& 1.25'), notes);
    expect(second).toBe(first.replace('ratio 1.30', () => 'ratio $& 1.25'));
    expect(closedLoopSectionOf(second)).toBe(section('ratio $& 1.25'));
  });

  it('goes at the end of a page without the notes; a page without markers has no section to keep', () => {
    expect(withClosedLoopSection('# Performance\n', section('x'), notes)).toBe(`# Performance\n\n${section('x')}\n`);
    expect(closedLoopSectionOf('# Performance\n')).toBeUndefined();
  });
});
