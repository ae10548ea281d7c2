/**
 * The chat command, the same in Slack, Feishu and DingTalk:
 *
 *   /scaleout <cluster> <count> [template] [--dry-run]
 *   /scaleout status [cluster]
 *   /scaleout help
 *   /scalein <cluster> <count|all> [--dry-run]     (give the function's nodes back, drained)
 *
 * Mentions of the bot and the leading `/scaleout` are stripped first (Slack sends the command
 * separately; Feishu and DingTalk send the whole message text). Anything else is a help reply
 * naming the problem, never an error page.
 */
export type ChatCommand =
  | { readonly kind: 'help'; readonly problem?: string }
  /** What the function bought and what the budgets leave, for one cluster or all. */
  | { readonly kind: 'status'; readonly cluster?: string }
  | { readonly kind: 'scale'; readonly cluster: string; readonly count: number; readonly template?: string; readonly dryRun: boolean }
  /** Give the function's nodes back (core/release.ts). */
  | { readonly kind: 'scale-in'; readonly cluster: string; readonly count: number | 'all'; readonly dryRun: boolean };

export const COMMAND_USAGE = '/scaleout <cluster> <count> [template] [--dry-run], /scaleout status [cluster], or /scalein <cluster> <count|all> [--dry-run]';
const DRY_RUN_FLAGS = new Set(['--dry-run', 'dry-run', '--dryrun', 'dryrun', '-n']);

export function parseChatCommand(text: string): ChatCommand {
  const words = stripMentions(text)
    .trim()
    .split(/\s+/)
    .filter((w) => w !== '');
  if (words[0] !== undefined && /^\/?scalein$/i.test(words[0])) return parseScaleIn(words.slice(1));
  if (words[0] !== undefined && /^\/?scaleout$/i.test(words[0])) words.shift();
  if (words.length === 0 || /^(help|-h|--help|\?)$/i.test(words[0]!)) return { kind: 'help' };
  // `status` is a word of the command, not a cluster alias.
  if (/^status$/i.test(words[0]!)) {
    if (words.length > 2) return { kind: 'help', problem: `unexpected ${JSON.stringify(words.slice(2).join(' ').slice(0, 40))}` };
    return { kind: 'status', ...(words[1] !== undefined && { cluster: words[1] }) };
  }

  const dryRun = words.some((w) => DRY_RUN_FLAGS.has(w.toLowerCase()));
  const positional = words.filter((w) => !DRY_RUN_FLAGS.has(w.toLowerCase()));
  const [cluster, count, template, ...extra] = positional;
  if (cluster === undefined || count === undefined) return { kind: 'help', problem: 'give a cluster and a count' };
  if (!/^\d{1,4}$/.test(count)) return { kind: 'help', problem: `count must be a whole number, got ${JSON.stringify(count.slice(0, 20))}` };
  if (extra.length > 0) return { kind: 'help', problem: `unexpected ${JSON.stringify(extra.join(' ').slice(0, 40))}` };
  return { kind: 'scale', cluster, count: Number(count), ...(template !== undefined && { template }), dryRun };
}

function parseScaleIn(words: string[]): ChatCommand {
  const dryRun = words.some((w) => DRY_RUN_FLAGS.has(w.toLowerCase()));
  const [cluster, count, ...extra] = words.filter((w) => !DRY_RUN_FLAGS.has(w.toLowerCase()));
  if (cluster === undefined || count === undefined) return { kind: 'help', problem: 'give a cluster and a count (or all) to give back' };
  if (!/^(\d{1,4}|all)$/i.test(count) || count === '0') return { kind: 'help', problem: `count must be a whole number from 1, or all, got ${JSON.stringify(count.slice(0, 20))}` };
  if (extra.length > 0) return { kind: 'help', problem: `unexpected ${JSON.stringify(extra.join(' ').slice(0, 40))}` };
  return { kind: 'scale-in', cluster, count: /^all$/i.test(count) ? 'all' : Number(count), dryRun };
}

/**
 * Removes mentions: Slack's `<@U123>` / `<@U123|name>`, Feishu's `@_user_1`, DingTalk's and plain
 * `@name` (up to the next space). One pass, linear in the text: the regular expression
 * `/<@[^>]+>/g` rescans to the end of the text from every `<@` that has no `>` after it, which is
 * quadratic on a body of `<@<@<@...` (seconds of CPU for 64 KB).
 */
export function stripMentions(text: string): string {
  let out = '';
  let noCloseFrom = text.length + 1; // no '>' at or after this index: stop looking for one
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '<' && text[i + 1] === '@' && i + 2 < noCloseFrom) {
      const close = text.indexOf('>', i + 2);
      if (close < 0) noCloseFrom = i + 2;
      else if (close > i + 2) {
        out += ' ';
        i = close + 1;
        continue;
      }
    }
    if (c === '@' && i + 1 < text.length && !isSpace(text.charCodeAt(i + 1))) {
      let end = i + 1;
      while (end < text.length && !isSpace(text.charCodeAt(end))) end++;
      out += ' ';
      i = end;
      continue;
    }
    out += c;
    i++;
  }
  return out;
}

function isSpace(code: number): boolean {
  return code === 32 || (code >= 9 && code <= 13) || code === 0xa0 || code === 0x3000 || code === 0x2002 || code === 0x2003 || code === 0x2009;
}
