import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors';
import { parseCompiledConfig } from './config-text';
import { formatIssues } from './format-issues';
import type { RawConfig } from './schema';
import { schemaModule } from './schema-module';

/**
 * The packaged config's validated form (`npm run package` writes it beside config/scaleout.json):
 * the schema's own output for exactly that file, defaults applied, with the sha256 of the file it
 * came from. When the digest matches, a cold start skips the schema (loading it and parsing with
 * it cost ~20 ms on SCF's Node 18, docs/PERFORMANCE.md) and runs only the cross-field checks. A
 * file edited after packaging no longer matches and is validated in full, as without one.
 */
export const VALIDATED_SUFFIX = '.validated.json';
const VALIDATED_FORMAT = 1;

/** The validated form of the compiled config at `path`, as `npm run package` writes it. */
export function validatedFormOf(path: string): string {
  const text = readFileSync(path, 'utf8');
  const raw = schemaModule().configSchema.safeParse(parseCompiledConfig(text, path));
  if (!raw.success) throw new ConfigError(path, formatIssues(raw.error.issues));
  return `${JSON.stringify({ format: VALIDATED_FORMAT, source: sha256(text), config: raw.data })}\n`;
}

/** The schema's output saved beside the compiled config at `path`, if it was made from `text` as it is now. */
export function readValidatedForm(path: string, text: string): RawConfig | undefined {
  let form: { format?: unknown; source?: unknown; config?: unknown };
  try {
    form = JSON.parse(readFileSync(path.replace(/\.json$/, VALIDATED_SUFFIX), 'utf8')) as typeof form;
  } catch {
    return undefined;
  }
  return form.format === VALIDATED_FORMAT && form.source === sha256(text) && typeof form.config === 'object' && form.config !== null ? (form.config as RawConfig) : undefined;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
