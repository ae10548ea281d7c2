import { configProblems, exampleConfigText } from '../../support/fixtures';
import { parseConfig } from '../../../src/config/load-config';

/**
 * The event's record must outlive the window its purchase is counted in: a reservation that may
 * have bought is found again by its event for a whole window, and only the record says to re-send
 * the request that event sent. With a shorter ttl, a redelivery after the record expired adopted
 * its old reservation, rendered afresh and bought with a new ClientToken, counted nowhere.
 */
const variant = exampleConfigText;

describe('idempotency.ttlSeconds covers every budget window', () => {
  it('the example config (ttl 1 day, windows of an hour and a day) loads', () => {
    expect(() => parseConfig(exampleConfigText(() => undefined), 'example.yaml')).not.toThrow();
  });

  it.each([
    ['the node budget', (doc: Record<string, any>) => (doc.throttle.windowSeconds = 7200), /idempotency\.ttlSeconds: 3600 s is shorter than throttle\.windowSeconds \(7200 s\)/],
    ["a cluster's money budget", (doc: Record<string, any>) => (doc.clusters['demo-sh'].costBudget.windowSeconds = 86_400), /shorter than clusters\.demo-sh\.costBudget\.windowSeconds \(86400 s\)/],
    ["a template's own throttle", (doc: Record<string, any>) => (doc.templates.small.throttle = { windowSeconds: 5400 }), /shorter than templates\.small\.throttle\.windowSeconds \(5400 s\)/],
  ])('a ttl shorter than %s is refused, naming both keys', (_what, change, message) => {
    const problems = configProblems(
      variant((doc) => {
        doc.idempotency = { ttlSeconds: 3600 };
        doc.throttle = { ...(doc.throttle ?? {}), windowSeconds: 3600 };
        doc.clusters['demo-sh'].costBudget.windowSeconds = 3600;
        change(doc);
      }),
    );
    expect(problems.join('\n')).toMatch(message);
  });

  it('a money window of 31 days can be covered (the ttl goes up to 31 days)', () => {
    expect(() =>
      parseConfig(
        variant((doc) => {
          doc.idempotency = { ttlSeconds: 31 * 86_400 };
          doc.clusters['demo-sh'].costBudget.windowSeconds = 31 * 86_400;
        }),
        'month.yaml',
      ),
    ).not.toThrow();
  });
});
