/**
 * The timer trigger that runs the pass following what the function bought (its event:
 * `{"Type":"Timer","TriggerName":"scaleout-follow","Time":…,"Message":…}`, SCF doc 583/31927), and the
 * CAM actions the function's role needs. One place for both, so `npm run deploy`, its --help and
 * the tests that hold docs/DEPLOY.md and serverless.yml to them agree.
 *
 * SCF's rules (定时触发器说明, cloud.tencent.com/document/product/583/9708): a timer trigger's name is
 * up to 60 characters of a-z A-Z 0-9 - _ starting with a letter, unique per function; its schedule
 * is a cron expression of seven required fields separated by spaces, second minute hour day month
 * weekday year, with `, - * /` in every field, `? L W` also in the day, `? L #` also in the weekday.
 * (CreateTrigger's model in tencentcloud-sdk-nodejs-scf allows a timer name of 100 characters; the
 * stricter rule is kept.)
 */

/** The trigger's name: what the function sees as the event's TriggerName. */
export const FOLLOW_TRIGGER_NAME = 'scaleout-follow';
/** Every minute, at second 0. */
export const DEFAULT_FOLLOW_SCHEDULE = '0 */1 * * * * *';

/** A timer trigger's name as 583/9708 allows it. */
export const TIMER_TRIGGER_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,59}$/;

/**
 * The TKE actions of the function's execution role, on each cluster the config names
 * (`qcs::tke:<region>:uin/<uin>:cluster/<cluster id>`): buying nodes, reading the cluster, and,
 * for the pass that follows what it bought, reading the nodes and removing the ones that never
 * joined. docs/DEPLOY.md's policy and serverless.yml name each (test/unit/deploy/role-actions.test.ts).
 */
export const ROLE_TKE_ACTIONS = ['tke:CreateClusterInstances', 'tke:DescribeClusters', 'tke:DescribeClusterInstances', 'tke:DeleteClusterInstances'] as const;

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const WEEKDAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

interface Field {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  readonly names?: readonly string[];
  /** The special items a field allows besides values, ranges, steps and `*`. */
  readonly special?: RegExp;
}

const FIELDS: readonly Field[] = [
  { name: 'second', min: 0, max: 59 },
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day', min: 1, max: 31, special: /^(\?|L|LW|(?:[1-9]|[12]\d|3[01])W)$/ },
  { name: 'month', min: 1, max: 12, names: MONTHS },
  { name: 'weekday', min: 0, max: 6, names: WEEKDAYS, special: /^(\?|L|(?:[0-6]|SUN|MON|TUE|WED|THU|FRI|SAT)(?:L|#[1-5]))$/i },
  { name: 'year', min: 1970, max: 2099 },
];

/**
 * The schedule as SCF takes it (fields separated by one space), or the reason it is not a
 * 7-field SCF cron expression. Checked before any call, so a typo stops the deploy with nothing
 * changed; SCF has the last word.
 */
export function checkSchedule(expression: string): { readonly ok: true; readonly schedule: string } | { readonly ok: false; readonly reason: string } {
  const fields = expression.trim().split(/\s+/).filter(Boolean);
  if (fields.length !== FIELDS.length) {
    const hint = fields.length === 5 ? ' (a 5-field crontab? SCF puts the second first and the year last: "0 */5 * * * * *" is every 5 minutes)' : '';
    return { ok: false, reason: `SCF's cron has 7 fields (second minute hour day month weekday year), got ${fields.length}${hint}` };
  }
  for (const [i, text] of fields.entries()) {
    const field = FIELDS[i]!;
    for (const item of text.split(',')) {
      const problem = itemProblem(item, field);
      if (problem !== undefined) return { ok: false, reason: `${field.name} field ${JSON.stringify(text)}: ${problem}` };
    }
  }
  return { ok: true, schedule: fields.join(' ') };
}

function itemProblem(item: string, field: Field): string | undefined {
  if (item === '') return 'an empty item';
  if (field.special?.test(item)) return undefined;
  const [range, step, extra] = item.split('/');
  if (extra !== undefined) return `${JSON.stringify(item)} has more than one "/"`;
  if (step !== undefined && !/^[1-9]\d*$/.test(step)) return `the step in ${JSON.stringify(item)} must be a positive integer`;
  if (range === '*') return undefined;
  const bounds = range!.split('-');
  if (bounds.length > 2) return `${JSON.stringify(item)} is not a value or a range`;
  for (const bound of bounds) {
    const value = valueOf(bound, field);
    if (value === undefined) return `${JSON.stringify(bound)} is not a ${field.name} (${field.min}-${field.max}${field.names ? ` or ${field.names[0]}…${field.names.at(-1)}` : ''})`;
  }
  return undefined;
}

function valueOf(text: string, field: Field): number | undefined {
  const named = field.names?.indexOf(text.toUpperCase()) ?? -1;
  if (named >= 0) return named + (field.min === 1 ? 1 : 0);
  if (!/^\d+$/.test(text)) return undefined;
  const n = Number(text);
  return n >= field.min && n <= field.max ? n : undefined;
}

/**
 * The schedule of a timer trigger as ListTriggers (or GetFunction) describes it. SCF takes the cron
 * expression itself as CreateTrigger's and UpdateTrigger's TriggerDesc but lists it as
 * `{"cron":"<expression>"}`: so read the tencentcloud_scf_trigger_config resource of
 * terraform-provider-tencentcloud (UpdateTrigger with the expression, read back from `.cron`) and
 * serverless-tencent-scf's deploy/lib/deployTrigger.js (JSON.parse(TriggerDesc).cron). A bare
 * expression is taken as it is.
 */
export function scheduleOfTriggerDesc(desc: string | undefined | null): string | undefined {
  if (desc === undefined || desc === null || desc.trim() === '') return undefined;
  let cron: unknown = desc;
  try {
    const parsed = JSON.parse(desc) as unknown;
    cron = typeof parsed === 'object' && parsed !== null ? (parsed as { cron?: unknown }).cron : parsed;
  } catch {
    // a bare expression
  }
  return typeof cron === 'string' && cron.trim() !== '' ? cron.trim().split(/\s+/).join(' ') : undefined;
}

/** What a timer trigger of the function looks like in ListTriggers (the fields the plan reads). */
export interface ListedTimer {
  readonly TriggerDesc?: string | null;
  readonly Enable?: number | null;
}

/**
 * What to do with the follow trigger, given the one the function has (if any) and the schedule
 * wanted (undefined: `--no-follow`):
 *  - create it, enabled;
 *  - update it (UpdateTrigger takes Type timer, TriggerDesc and Enable: the SDK's
 *    UpdateTriggerRequest, "目前只支持timer、ckafka、http三种类型") when its schedule differs or it is
 *    off;
 *  - turn it off (UpdateTrigger, Enable CLOSE, its schedule kept) with `--no-follow`: the pass
 *    stops and the next deploy without `--no-follow` turns it on again; never deleted;
 *  - leave it as it is.
 */
export type FollowPlan =
  | { readonly action: 'create'; readonly schedule: string }
  | { readonly action: 'update'; readonly schedule: string; readonly was: string | undefined; readonly wasEnabled: boolean }
  | { readonly action: 'disable'; readonly schedule: string | undefined }
  | { readonly action: 'keep'; readonly schedule: string | undefined; readonly enabled: boolean }
  | { readonly action: 'none' };

export function planFollowTrigger(existing: ListedTimer | undefined, wantedSchedule: string | undefined): FollowPlan {
  const wanted = wantedSchedule?.trim().split(/\s+/).join(' ');
  const current = scheduleOfTriggerDesc(existing?.TriggerDesc);
  const enabled = existing?.Enable === 1;
  if (wanted === undefined) {
    if (existing === undefined) return { action: 'none' };
    return enabled ? { action: 'disable', schedule: current } : { action: 'keep', schedule: current, enabled };
  }
  if (existing === undefined) return { action: 'create', schedule: wanted };
  if (current === wanted && enabled) return { action: 'keep', schedule: current, enabled };
  return { action: 'update', schedule: wanted, was: current, wasEnabled: enabled };
}
