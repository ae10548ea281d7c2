import type * as z from 'zod';
import { RUN_INSTANCE_PARA_KEYS } from '../tke/tke-params';
import { schemaModule } from './schema-module';

/** What follows "unknown key" for `key`: the known key it is likely a typo of, else zod's own words if they add anything. */
export function spellingHint(key: string, issue: z.core.$ZodIssue): string {
  // A key near a known one is almost always a typo; name the likely intent.
  const close = knownKeys().find((known) => known !== key && editDistance(known.toLowerCase(), key.toLowerCase()) <= 2);
  if (close !== undefined) return `; did you mean ${close}?`;
  return issue.message.startsWith('Unrecognized key') ? '' : `; ${issue.message}`;
}

/**
 * Every key the schema knows, for spelling hints: collected from the schema itself, so a key added
 * there is hinted without a second list to keep in step. RunInstancePara is a record checked
 * against CVM's parameter list, so that list is added.
 */
let known: readonly string[] | undefined;
const knownKeys = (): readonly string[] => (known ??= [...schemaKeys(schemaModule().configSchema), ...RUN_INSTANCE_PARA_KEYS]);

function schemaKeys(schema: z.core.$ZodType, found = new Set<string>()): Set<string> {
  const def = (schema as unknown as { _zod: { def: Record<string, unknown> & { type: string } } })._zod.def;
  const visit = (inner: unknown) => {
    if (inner !== undefined && inner !== null) schemaKeys(inner as z.core.$ZodType, found);
  };
  switch (def.type) {
    case 'object':
      for (const [key, value] of Object.entries(def.shape as Record<string, z.core.$ZodType>)) {
        found.add(key);
        visit(value);
      }
      break;
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'readonly':
    case 'catch':
      visit(def.innerType);
      break;
    case 'union':
      for (const option of def.options as z.core.$ZodType[]) visit(option);
      break;
    case 'array':
      visit(def.element);
      break;
    case 'record':
      visit(def.valueType);
      break;
    case 'pipe':
      visit(def.in);
      visit(def.out);
      break;
  }
  return found;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length]!;
}
