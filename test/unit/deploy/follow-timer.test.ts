import { checkSchedule, DEFAULT_FOLLOW_SCHEDULE, FOLLOW_TRIGGER_NAME, planFollowTrigger, scheduleOfTriggerDesc, TIMER_TRIGGER_NAME } from '../../../deploy/follow-timer';

/**
 * The follow timer's rules (deploy/follow-timer.ts): SCF's 7-field cron and trigger names
 * (583/9708), how a listed timer's schedule is read, and what a deploy does with the trigger it finds.
 */
describe('the follow timer', () => {
  it('is named and scheduled as SCF allows: every minute by default', () => {
    expect(FOLLOW_TRIGGER_NAME).toMatch(TIMER_TRIGGER_NAME);
    expect(checkSchedule(DEFAULT_FOLLOW_SCHEDULE)).toEqual({ ok: true, schedule: '0 */1 * * * * *' });
  });

  it.each([
    ['0 */1 * * * * *'],
    ['0 */5 * * * * *'],
    ['*/30 * * * * * *'],
    ['0 0 2 1 * * *'], // 583/9708's example: 02:00 on the 1st of each month
    ['0 15 10 * * MON-FRI *'],
    ['0 0 10,14,16 * * * *'],
    ['0 0/30 9-17 * * * *'],
    ['0 0 12 ? * WED *'],
    ['0 0 8 L * ? *'],
    ['0 0 8 15W * ? *'],
    ['0 0 8 ? * 5L *'],
    ['0 0 8 ? * 1#2 *'],
    ['0 0 0 1 JAN-JUN * 2026-2030'],
  ])('takes %s', (expression) => {
    expect(checkSchedule(expression)).toEqual({ ok: true, schedule: expression });
  });

  it('takes extra spaces and gives the expression back with one between fields', () => {
    expect(checkSchedule('  0  */5 *\t* * * *  ')).toEqual({ ok: true, schedule: '0 */5 * * * * *' });
  });

  it.each([
    ['*/5 * * * *', /7 fields .*got 5 \(a 5-field crontab\? .*"0 \*\/5 \* \* \* \* \*"/],
    ['0 */5 * * * *', /7 fields .*got 6$/],
    ['0 0 0 * * * * *', /got 8/],
    ['', /got 0/],
    ['60 * * * * * *', /second field "60": "60" is not a second \(0-59\)/],
    ['0 61 * * * * *', /minute field "61"/],
    ['0 0 24 * * * *', /hour field "24"/],
    ['0 0 0 0 * * *', /day field "0"/],
    ['0 0 0 32 * * *', /day field "32"/],
    ['0 0 0 * 13 * *', /month field "13"/],
    ['0 0 0 * FOO * *', /month field "FOO"/],
    ['0 0 0 * * 7 *', /weekday field "7"/],
    ['0 0 0 * * * 1969', /year field "1969"/],
    ['0 0 0 * * * 2100', /year field "2100"/],
    ['? * * * * * *', /second field "\?"/],
    ['0 */0 * * * * *', /step .* positive integer/],
    ['0 1/2/3 * * * * *', /more than one "\/"/],
    ['0 1-2-3 * * * * *', /not a value or a range/],
    ['0 1,,2 * * * * *', /an empty item/],
  ])('refuses %j, saying why', (expression, reason) => {
    const checked = checkSchedule(expression);
    expect(checked.ok).toBe(false);
    if (!checked.ok) expect(checked.reason).toMatch(reason);
  });

  it('knows a trigger name as 583/9708 allows it: up to 60 of a-z A-Z 0-9 - _, starting with a letter', () => {
    for (const good of ['a', 'scaleout-follow', 'EveryDay', 'x_1', `a${'b'.repeat(59)}`]) expect(good).toMatch(TIMER_TRIGGER_NAME);
    for (const bad of ['', '1a', '-a', '_a', 'a b', 'a.b', `a${'b'.repeat(60)}`]) expect(bad).not.toMatch(TIMER_TRIGGER_NAME);
  });

  it("reads a listed timer's schedule from {\"cron\": …}, or a bare expression", () => {
    expect(scheduleOfTriggerDesc('{"cron":"0 */1 * * * * *"}')).toBe('0 */1 * * * * *');
    expect(scheduleOfTriggerDesc('{"cron":"0  */1 * * * * *","other":1}')).toBe('0 */1 * * * * *');
    expect(scheduleOfTriggerDesc('0 */5 * * * * *')).toBe('0 */5 * * * * *');
    expect(scheduleOfTriggerDesc('"0 */5 * * * * *"')).toBe('0 */5 * * * * *');
    for (const none of [undefined, null, '', '{}', '{"cron":""}', '{"cron":5}', '[]']) expect(scheduleOfTriggerDesc(none)).toBeUndefined();
  });

  describe('what a deploy does with it', () => {
    const every = (cron: string, enable = 1) => ({ TriggerDesc: JSON.stringify({ cron }), Enable: enable });

    it('creates it when the function has none', () => {
      expect(planFollowTrigger(undefined, '0 */1 * * * * *')).toEqual({ action: 'create', schedule: '0 */1 * * * * *' });
    });

    it('leaves it when it has the schedule and is on, however the schedule is spaced', () => {
      expect(planFollowTrigger(every('0 */1 * * * * *'), '0 */1 * * * * *')).toEqual({ action: 'keep', schedule: '0 */1 * * * * *', enabled: true });
      expect(planFollowTrigger(every('0  */1 * * * * *'), ' 0 */1 * * * *  *')).toMatchObject({ action: 'keep' });
    });

    it('updates it when its schedule differs, when it is off, or when its schedule cannot be read', () => {
      expect(planFollowTrigger(every('0 */1 * * * * *'), '0 */5 * * * * *')).toEqual({ action: 'update', schedule: '0 */5 * * * * *', was: '0 */1 * * * * *', wasEnabled: true });
      expect(planFollowTrigger(every('0 */1 * * * * *', 0), '0 */1 * * * * *')).toEqual({ action: 'update', schedule: '0 */1 * * * * *', was: '0 */1 * * * * *', wasEnabled: false });
      expect(planFollowTrigger({ TriggerDesc: '{}', Enable: 1 }, '0 */1 * * * * *')).toEqual({ action: 'update', schedule: '0 */1 * * * * *', was: undefined, wasEnabled: true });
    });

    it('with --no-follow: creates none, turns one that is on off, and leaves one that is off', () => {
      expect(planFollowTrigger(undefined, undefined)).toEqual({ action: 'none' });
      expect(planFollowTrigger(every('0 */5 * * * * *'), undefined)).toEqual({ action: 'disable', schedule: '0 */5 * * * * *' });
      expect(planFollowTrigger(every('0 */5 * * * * *', 0), undefined)).toEqual({ action: 'keep', schedule: '0 */5 * * * * *', enabled: false });
    });
  });
});
