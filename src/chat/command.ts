/**
 * The chat command, the same in Slack, Feishu and DingTalk:
 *
 *   /scaleout <cluster> <count> [template] [--dry-run]
 *   /scaleout help
 *
 * Mentions of the bot and the leading `/scaleout` are stripped first (Slack sends the command
 * separately; Feishu and DingTalk send the whole message text). Anything else is a help reply
 * naming the problem, never an error page.
 */
export type ChatCommand =
  | { readonly kind: 'help'; readonly problem?: string }
  | { readonly kind: 'scale'; readonly cluster: string; readonly count: number; readonly template?: string; readonly dryRun: boolean };

export const COMMAND_USAGE = '/scaleout <cluster> <count> [template] [--dry-run]';
const DRY_RUN_FLAGS = new Set(['--dry-run', 'dry-run', '--dryrun', 'dryrun', '-n']);

export function parseChatCommand(text: string): ChatCommand {
  const words = text
    .replace(/<@[^>]+>/g, ' ') // Slack mentions
    .replace(/@_user_\d+/g, ' ') // Feishu mentions
    .replace(/@\S+/g, ' ') // DingTalk and plain mentions
    .trim()
    .split(/\s+/)
    .filter((w) => w !== '');
  if (words[0] !== undefined && /^\/?scaleout$/i.test(words[0])) words.shift();
  if (words.length === 0 || /^(help|-h|--help|\?)$/i.test(words[0]!)) return { kind: 'help' };

  const dryRun = words.some((w) => DRY_RUN_FLAGS.has(w.toLowerCase()));
  const positional = words.filter((w) => !DRY_RUN_FLAGS.has(w.toLowerCase()));
  const [cluster, count, template, ...extra] = positional;
  if (cluster === undefined || count === undefined) return { kind: 'help', problem: 'give a cluster and a count' };
  if (!/^\d{1,4}$/.test(count)) return { kind: 'help', problem: `count must be a whole number, got ${JSON.stringify(count.slice(0, 20))}` };
  if (extra.length > 0) return { kind: 'help', problem: `unexpected ${JSON.stringify(extra.join(' ').slice(0, 40))}` };
  return { kind: 'scale', cluster, count: Number(count), ...(template !== undefined && { template }), dryRun };
}
