/**
 * The env vars a config reads its secrets from: every `…Env` value in it (tokenEnv, secretEnv,
 * usersEnv, …), a name or a list of names (a secret being rotated). `npm run deploy` copies them
 * onto the function; serverless.yml must list them.
 */
export function envVarsNamedBy(config: unknown, found = new Set<string>()): Set<string> {
  if (Array.isArray(config)) config.forEach((item) => envVarsNamedBy(item, found));
  else if (typeof config === 'object' && config !== null) {
    for (const [key, value] of Object.entries(config)) {
      if (key.endsWith('Env') && typeof value === 'string') found.add(value);
      else if (key.endsWith('Env') && Array.isArray(value)) value.filter((v): v is string => typeof v === 'string').forEach((v) => found.add(v));
      else envVarsNamedBy(value, found);
    }
  }
  return found;
}
