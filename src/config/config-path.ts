import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

/**
 * Where the config is: SCALEOUT_CONFIG, else the packaged config (`npm run package` compiles the
 * YAML into config/scaleout.json in the zip), found under SCF's code root (USER_CODE_ROOT), else
 * beside the bundle itself (a zip loaded some other way), else under the working directory; in a
 * checkout, where there is none, the example config. Light on purpose: the Feishu challenge's
 * fast path (sources/feishu-url-verification.ts) reads it before anything else is loaded.
 */
export function configPathFor(env: NodeJS.ProcessEnv): string {
  return env.SCALEOUT_CONFIG ?? defaultConfigPath(env);
}

export function defaultConfigPath(env: NodeJS.ProcessEnv): string {
  const roots = [env.USER_CODE_ROOT, typeof __dirname === 'string' ? __dirname : undefined, process.cwd()];
  for (const root of roots) {
    if (root === undefined || root === '') continue;
    const packaged = resolve(root, 'config', 'scaleout.json');
    if (existsSync(packaged)) return packaged;
  }
  return resolve(env.USER_CODE_ROOT || process.cwd(), 'config', 'example.yaml');
}
