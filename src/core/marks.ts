import { createHash } from 'node:crypto';

/**
 * What marks a node as the function's own, on both sides, so that an operator, a billing report and
 * the function itself tell its nodes from everyone else's, and so that nothing it ever deletes is
 * not its own:
 *
 *   Kubernetes  InstanceAdvancedSettings.Labels [{Name, Value}] (tke_models.d.ts, Label), the node's
 *               labels once it joins;
 *   CVM         RunInstancePara.TagSpecification [{ResourceType: "instance", Tags: [{Key, Value}]}]
 *               (cvm_models.d.ts, TagSpecification), the instance's tags, which the cost report
 *               attributes.
 *
 * Both carry the same two keys: who bought it (the deployment's `purchases.owner`) and which
 * purchase (the purchase's ID). The key is valid on both sides: a Kubernetes label key with the
 * prefix `tke-scaleout` (a DNS label) and a name; a Tencent Cloud tag key of 1 to 127 characters of
 * letters, digits and `+ - = . _ : / @` (Tencent Cloud Tag, "使用限制", cloud.tencent.com/document/
 * product/651/13354; not `qcs:` or `project:`, which are reserved). Values are at most 63 characters
 * of `[A-Za-z0-9._-]`, beginning and ending with a letter or digit (Kubernetes label values), which
 * tag values (1 to 255) accept too. The marks are written into the request, so they are part of
 * what its ClientToken is derived from.
 */
export const MARK_KEYS = { owner: 'tke-scaleout/owner', purchase: 'tke-scaleout/purchase' } as const;

/** A Kubernetes label value: at most 63, alphanumeric at both ends, `-_.` inside. */
export const LABEL_VALUE = /^(?:[A-Za-z0-9](?:[A-Za-z0-9._-]{0,61}[A-Za-z0-9])?)$/;

export interface PurchaseMarks {
  readonly owner: string;
  readonly purchase: string;
}

/**
 * A purchase's ID: one per event, since an event buys at most once (one request, one ClientToken;
 * a redelivery re-sends it). Derived, not drawn, so that the request rendered for an event is the
 * same every time it is rendered: `p-` and 16 hex digits of sha256 of [source, eventId] as JSON
 * (an event ID is the sender's and may hold any character: the pair must not be ambiguous).
 */
export function purchaseIdOf(source: string, eventId: string): string {
  return `p-${createHash('sha256').update(JSON.stringify([source, eventId])).digest('hex').slice(0, 16)}`;
}

/**
 * The template's RunInstancePara and InstanceAdvancedSettings with the marks merged in: the
 * template's own labels and tags are kept, ours are added, once each. Whatever else wrote our keys
 * (a param, a ladder rung: the config refuses only a template that sets them itself) is taken out
 * first, from every instance tag specification, so a request never carries two values for a mark.
 * Both objects are the renderer's own copies: changed in place.
 */
export function writeMarks(runInstancePara: Record<string, unknown>, advanced: Record<string, unknown>, marks: PurchaseMarks): void {
  const ours = new Set<unknown>(Object.values(MARK_KEYS));
  const pairs: Array<[string, string]> = [
    [MARK_KEYS.owner, marks.owner],
    [MARK_KEYS.purchase, marks.purchase],
  ];
  const labels = Array.isArray(advanced.Labels) ? (advanced.Labels as Array<{ Name?: unknown } | null>).filter((l) => !ours.has(l?.Name)) : [];
  advanced.Labels = [...labels, ...pairs.map(([Name, Value]) => ({ Name, Value }))];

  const specifications = (Array.isArray(runInstancePara.TagSpecification) ? (runInstancePara.TagSpecification as Array<Record<string, unknown>>) : []).map((s) =>
    s?.ResourceType === 'instance' && Array.isArray(s.Tags) ? { ...s, Tags: (s.Tags as Array<{ Key?: unknown } | null>).filter((t) => !ours.has(t?.Key)) } : s,
  );
  const forInstance = specifications.find((s) => s?.ResourceType === 'instance');
  const tags = pairs.map(([Key, Value]) => ({ Key, Value }));
  runInstancePara.TagSpecification =
    forInstance === undefined
      ? [...specifications, { ResourceType: 'instance', Tags: tags }]
      : specifications.map((s) => (s === forInstance ? { ...s, Tags: [...(Array.isArray(s.Tags) ? s.Tags : []), ...tags] } : s));
}

/** The marks a label set or tag set carries, if it is one of ours. */
export function marksOf(pairs: ReadonlyArray<{ readonly key: string; readonly value: string }>): Partial<PurchaseMarks> {
  const owner = pairs.find((p) => p.key === MARK_KEYS.owner)?.value;
  const purchase = pairs.find((p) => p.key === MARK_KEYS.purchase)?.value;
  return { ...(owner !== undefined && { owner }), ...(purchase !== undefined && { purchase }) };
}
