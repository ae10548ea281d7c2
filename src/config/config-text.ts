import { ConfigError } from '../errors';

/** The YAML an operator writes, as plain data, before validation. */
export function parseYamlConfig(yamlText: string, origin: string): unknown {
  const { parseDocument } = yamlLibrary(origin);
  // Duplicate keys are errors (yaml's uniqueKeys default): a second `small:` must not silently win.
  const doc = parseDocument(yamlText, { prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(origin, doc.errors.map((e) => `YAML: ${e.message.split('\n')[0]}`));
  }
  return doc.toJS() ?? {};
}

/**
 * Loaded here rather than at the top: the packaged function reads the compiled JSON and its bundle
 * leaves the YAML library out (build/package.mjs), since parsing YAML there (the library and a 6 KB
 * file) cost every cold start ~25 ms on SCF's Node 18 (docs/PERFORMANCE.md).
 */
function yamlLibrary(origin: string): typeof import('yaml') {
  try {
    return require('yaml') as typeof import('yaml');
  } catch {
    throw new ConfigError(origin, [
      'this bundle reads JSON config: point SCALEOUT_CONFIG at the config/scaleout.json that `npm run package` compiles from your YAML, or leave it unset',
    ]);
  }
}

/** The JSON that `npm run package` compiles the YAML into, as plain data, before validation. */
export function parseCompiledConfig(jsonText: string, origin: string): unknown {
  try {
    return JSON.parse(jsonText) as unknown;
  } catch (err) {
    throw new ConfigError(origin, [`JSON: ${(err as Error).message}`]);
  }
}
