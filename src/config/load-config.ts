import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors';
import type { Config } from './config';
import { parseCompiledConfig, parseYamlConfig } from './config-text';
import { checkCrossFields, validateConfig } from './validate-config';
import { readValidatedForm } from './validated-form';

/*
 * The config's entry: where a config file becomes the frozen Config. Each step is its own file:
 * the text parsed (config-text.ts), the packaged validated form that lets a cold start skip the
 * schema (validated-form.ts), the schema (schema.ts, loaded on demand by schema-module.ts) and its
 * problems in words (format-issues.ts, spelling-hints.ts), the checks across fields while the
 * Config is assembled (assemble-config.ts, template-ladder.ts, cross-field-checks.ts), and the
 * freezing (deep-freeze.ts). The types and the packaging helpers are re-exported from here.
 */
export type { ClusterConfig, Config, ParamSpec, ParamTarget, ParamValue, ParamWrite, RuleConfig, TemplateConfig } from './config';
export { VALIDATED_SUFFIX, validatedFormOf } from './validated-form';

/**
 * Reads, parses and validates the config file at `path`: YAML (what operators write), or the JSON
 * that `npm run package` compiles it into for the zip. Throws ConfigError naming every problem.
 */
export function loadConfigFile(path: string): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(path, [`cannot read the file: ${(err as Error).message}`]);
  }
  if (!path.endsWith('.json')) return parseConfig(text, path);
  const validated = readValidatedForm(path, text);
  return validated !== undefined ? checkCrossFields(validated, path) : validateConfig(parseCompiledConfig(text, path), path);
}

/** The config in `yamlText` (`origin` names it in problems), validated and frozen. */
export function parseConfig(yamlText: string, origin: string): Config {
  return validateConfig(parseYamlConfig(yamlText, origin), origin);
}
