import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { loadConfigFile, parseConfig, type Config } from '../../src/config/load-config';
import { ConfigError } from '../../src/errors';
import type { Resolution } from '../../src/core/resolve';
import type { ResolvedScaleOut } from '../../src/core/scale-out-request';
import type { WebhookRequest } from '../../src/http/webhook-request';
import { MARK_KEYS, purchaseIdOf } from '../../src/core/marks';

export const REPO_ROOT = join(__dirname, '..', '..');
export const EXAMPLE_CONFIG_PATH = join(REPO_ROOT, 'config', 'example.yaml');

export function exampleConfig(): Config {
  return loadConfigFile(EXAMPLE_CONFIG_PATH);
}

/**
 * The example config's YAML, changed by `change` on its parsed form. Without its `notify:`
 * section unless `change` puts one back: its sinks' URLs are env vars only `npm start` sets (to
 * its local capture), and a test about something else should not post notices nowhere.
 */
export function exampleConfigText(change: (doc: Record<string, any>) => void): string {
  const doc = parse(readFileSync(EXAMPLE_CONFIG_PATH, 'utf8')) as Record<string, any>;
  delete doc.notify;
  change(doc);
  return stringify(doc);
}

/** Writes a variant of the example config (changed by `change` on its parsed form) to a temp file. */
export function exampleConfigVariant(change: (doc: Record<string, any>) => void): string {
  const path = join(mkdtempSync(join(tmpdir(), 'scaleout-config-')), 'config.yaml');
  writeFileSync(path, exampleConfigText(change));
  return path;
}

/** The problems a config's YAML is refused with (the test fails if it is accepted). */
export function configProblems(yaml: string): string[] {
  try {
    parseConfig(yaml, 'test.yaml');
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return [...(error as ConfigError).problems];
  }
  throw new Error('expected a ConfigError');
}

/**
 * A tight node budget for the whole example config: the config refuses a template whose count.max
 * no budget could ever grant without clamping, so each such template's max (and default) comes
 * down to the budget. Counts a test asks for stay within it.
 */
export function withNodeBudget(doc: Record<string, any>, throttle: { maxNodesPerWindow?: number } & Record<string, unknown>): void {
  doc.throttle = throttle;
  if (throttle.maxNodesPerWindow === undefined) return;
  for (const template of Object.values(doc.templates as Record<string, { count: { max: number; default?: number; clamp?: boolean } }>)) {
    if (template.count.clamp === true || template.count.max <= throttle.maxNodesPerWindow!) continue;
    template.count.max = throttle.maxNodesPerWindow!;
    if (template.count.default !== undefined) template.count.default = Math.min(template.count.default, throttle.maxNodesPerWindow!);
  }
}

/** For tests about something else: a throttle that never holds anything back. */
export const RELAXED_THROTTLE = { cooldownSeconds: 0, windowSeconds: 3600, maxNodesPerWindow: 10_000 };

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

/** For tests that need a resolved request: resolveScaleOut's verdict, which must be `resolved`. */
export function resolvedOf(resolution: Resolution): ResolvedScaleOut {
  if (resolution.kind !== 'resolved') throw new Error(`expected a resolved request, got ${resolution.error.code}: ${resolution.error.message}`);
  return resolution.resolved;
}

/**
 * The function's marks (core/marks.ts) on what an event of `source` buys, as they arrive at TKE:
 * the instance tags added to RunInstancePara and the labels added to InstanceAdvancedSettings, for
 * comparing a sent request with the seed's.
 */
export function marksFor(source: string, eventId: string, owner = 'tke-scaleout') {
  const purchase = purchaseIdOf(source, eventId);
  return {
    TagSpecification: [{ ResourceType: 'instance', Tags: [{ Key: MARK_KEYS.owner, Value: owner }, { Key: MARK_KEYS.purchase, Value: purchase }] }],
    Labels: [{ Name: MARK_KEYS.owner, Value: owner }, { Name: MARK_KEYS.purchase, Value: purchase }],
  };
}
