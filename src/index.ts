import type { ColdStart } from './cold-start';
import type { ScfHttpEvent } from './scf/event';
import { feishuUrlVerification } from './sources/feishu-url-verification';

/**
 * SCF entry: handler `index.main_handler`.
 *
 * The function is built on the first invocation that needs it, not at module load: Feishu's URL
 * challenge must be answered within 1 s, usually on a cold instance, and needs none of it
 * (sources/feishu-url-verification.ts). Everything else builds the function once per instance
 * (cold-start.ts), and a bad config or environment fails that invocation, and every later one,
 * with the log line naming the key.
 */
let built: ColdStart | undefined;

export async function main_handler(event: ScfHttpEvent, context: object): Promise<unknown> {
  const challenge = feishuUrlVerification(event, process.env);
  if (challenge !== undefined) return challenge;
  return coldStartNow().handler(event, context);
}

/** For `npm run package`: the validated form of the packaged config (config/load-config.ts). */
export function validatedConfigOf(path: string): string {
  return (require('./config/load-config') as typeof import('./config/load-config')).validatedFormOf(path);
}

/** Builds the function (once); `npm run package` calls it to validate the config it ships. */
export function coldStartNow(): ColdStart {
  built ??= (require('./cold-start') as typeof import('./cold-start')).coldStart();
  return built;
}
