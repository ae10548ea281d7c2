/**
 * The two selectors a Kubernetes LIST takes, as the kube-apiserver reads them, for the Kubernetes
 * API stand-in (kube-sandbox.ts). Pure: text in, requirements out, a match function.
 *
 *  - `labelSelector` (kubernetes.io/docs/concepts/overview/working-with-objects/labels/, "Label
 *    selectors"): comma-separated requirements, all of which must hold (no OR). Equality-based
 *    `k=v`, `k==v`, `k!=v` ("`!=` selects ... all resources with no labels with the key"), set-based
 *    `k in (a, b)`, `k notin (a, b)` (notin also selects objects without the key), `k` (exists),
 *    `!k` (does not exist). Keys are qualified names (an optional DNS-subdomain prefix and `/`, a
 *    name of at most 63 characters), values at most 63 characters of the same alphabet, or empty.
 *  - `fieldSelector` (kubernetes.io/docs/concepts/overview/working-with-objects/field-selectors/):
 *    `=`, `==` and `!=` only ("Set-based operators (in, notin, exists) are not supported for field
 *    selectors"), comma-separated and ANDed; which fields a resource supports is its own list, and
 *    "Using unsupported field selectors produces an error" (400).
 */

export class SelectorError extends Error {}

export type LabelRequirement =
  | { readonly key: string; readonly op: 'in' | 'notin'; readonly values: readonly string[] }
  | { readonly key: string; readonly op: 'exists' | 'doesnotexist' };

export interface FieldRequirement {
  readonly field: string;
  readonly op: '=' | '!=';
  readonly value: string;
}

const NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** An empty selector selects everything (no requirement). Throws SelectorError on bad syntax. */
export function parseLabelSelector(text: string): LabelRequirement[] {
  return splitOutsideParentheses(text)
    .map((part) => part.trim())
    .filter((part, index, parts) => {
      if (part === '' && parts.length > 1) throw new SelectorError(`unable to parse requirement: empty requirement in ${JSON.stringify(text)}`);
      return part !== '';
    })
    .map(parseLabelRequirement);
}

export function matchesLabels(requirements: readonly LabelRequirement[], labels: Readonly<Record<string, string>>): boolean {
  return requirements.every((r) => {
    const has = Object.prototype.hasOwnProperty.call(labels, r.key);
    switch (r.op) {
      case 'exists':
        return has;
      case 'doesnotexist':
        return !has;
      case 'in':
        return has && r.values.includes(labels[r.key]!);
      case 'notin':
        return !has || !r.values.includes(labels[r.key]!);
    }
  });
}

/**
 * `supported`: the fields this resource may be selected by. An unsupported field is refused with the
 * apiserver's words for core resources ("field label not supported: <field>").
 */
export function parseFieldSelector(text: string, supported: ReadonlySet<string>): FieldRequirement[] {
  if (text.trim() === '') return [];
  return splitUnescaped(text, ',').map((part) => {
    const match = /^(.*?)(==|!=|=)(.*)$/s.exec(part);
    if (match === null) throw new SelectorError(`invalid selector: '${part}'; can't understand '${part}'`);
    const field = match[1]!.trim();
    if (!supported.has(field)) throw new SelectorError(`field label not supported: ${field}`);
    return { field, op: match[2] === '!=' ? '!=' : '=', value: unescapeFieldValue(match[3]!) };
  });
}

export function matchesFields(requirements: readonly FieldRequirement[], fields: Readonly<Record<string, string>>): boolean {
  return requirements.every((r) => ((fields[r.field] ?? '') === r.value) === (r.op === '='));
}

function parseLabelRequirement(part: string): LabelRequirement {
  if (part.startsWith('!')) return { key: checkedKey(part.slice(1).trim()), op: 'doesnotexist' };
  const set = /^(\S+)\s+(in|notin)\s*\((.*)\)$/s.exec(part);
  if (set !== null) {
    const values = set[3]!.split(',').map((v) => checkedValue(v.trim()));
    return { key: checkedKey(set[1]!), op: set[2] === 'in' ? 'in' : 'notin', values };
  }
  const equality = /^([^=!\s]+)\s*(==|!=|=)\s*(.*)$/s.exec(part);
  if (equality !== null) {
    return { key: checkedKey(equality[1]!), op: equality[2] === '!=' ? 'notin' : 'in', values: [checkedValue(equality[3]!.trim())] };
  }
  return { key: checkedKey(part), op: 'exists' };
}

/** A qualified name: `[prefix/]name` (kubernetes.io/docs/concepts/overview/working-with-objects/labels/#syntax-and-character-set). */
function checkedKey(key: string): string {
  const slash = key.indexOf('/');
  const prefix = slash < 0 ? undefined : key.slice(0, slash);
  const name = slash < 0 ? key : key.slice(slash + 1);
  const prefixOk = prefix === undefined || (prefix.length <= 253 && DNS_SUBDOMAIN.test(prefix));
  if (!prefixOk || name.length === 0 || name.length > 63 || !NAME.test(name)) {
    throw new SelectorError(`unable to parse requirement: invalid label key ${JSON.stringify(key)}: a qualified name is an optional DNS subdomain prefix and '/', and a name of at most 63 characters (alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric)`);
  }
  return key;
}

function checkedValue(value: string): string {
  if (value !== '' && (value.length > 63 || !NAME.test(value))) {
    throw new SelectorError(`unable to parse requirement: invalid label value ${JSON.stringify(value)}: at most 63 characters (alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric), or empty`);
  }
  return value;
}

/** Commas separate requirements, except inside `in (…)` / `notin (…)`. */
function splitOutsideParentheses(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth = Math.max(0, depth - 1);
    if (ch === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else current += ch;
  }
  parts.push(current);
  return parts;
}

/** Field selector values escape `\`, `,` and `=` with a backslash (k8s.io/apimachinery/pkg/fields). */
function splitUnescaped(text: string, separator: string): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '\\' && i + 1 < text.length) {
      current += ch + text[++i];
    } else if (ch === separator) {
      parts.push(current);
      current = '';
    } else current += ch;
  }
  parts.push(current);
  return parts;
}

function unescapeFieldValue(value: string): string {
  return value.replace(/\\(.)/g, '$1');
}
