import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfigFile, type Config } from '../../src/config/load-config';
import type { WebhookRequest } from '../../src/http/webhook-request';

export const REPO_ROOT = join(__dirname, '..', '..');
export const EXAMPLE_CONFIG_PATH = join(REPO_ROOT, 'config', 'example.yaml');

export function exampleConfig(): Config {
  return loadConfigFile(EXAMPLE_CONFIG_PATH);
}

export function fixture<T = unknown>(name: string): T {
  return JSON.parse(readFileSync(join(REPO_ROOT, 'test', 'fixtures', name), 'utf8')) as T;
}

export function webhookRequest(overrides: Partial<WebhookRequest> & { json?: unknown } = {}): WebhookRequest {
  const { json, ...rest } = overrides;
  return {
    method: 'POST',
    path: '/hooks/generic',
    headers: { 'content-type': 'application/json', authorization: 'Bearer test-token' },
    query: {},
    rawBody: Buffer.from(json === undefined ? '{}' : JSON.stringify(json)),
    ...rest,
  };
}
