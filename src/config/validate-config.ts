import { ConfigError } from '../errors';
import { assembleConfig } from './assemble-config';
import type { Config } from './config';
import { deepFreeze } from './deep-freeze';
import { formatIssues } from './format-issues';
import type { RawConfig } from './schema';
import { schemaModule } from './schema-module';

/** Validates parsed config data (from YAML or compiled JSON) into the frozen Config. Throws ConfigError naming every problem. */
export function validateConfig(data: unknown, origin: string): Config {
  const parsed = schemaModule().configSchema.safeParse(data);
  if (!parsed.success) {
    throw new ConfigError(origin, formatIssues(parsed.error.issues));
  }
  return checkCrossFields(parsed.data, origin);
}

/** The schema's output (fresh, or its packaged validated form): what the schema cannot see (assemble-config.ts), then frozen. */
export function checkCrossFields(raw: RawConfig, origin: string): Config {
  const problems: string[] = [];
  const config = assembleConfig(raw, origin, problems);
  if (problems.length > 0) throw new ConfigError(origin, problems);
  return deepFreeze(config);
}
