/**
 * Kubernetes resource quantities ("500m", "2", "1.5", "128Mi", "1G", "1e3") as numbers: CPU in
 * millicores, memory in bytes. The grammar is the API's `resource.Quantity`
 * (k8s.io/apimachinery/pkg/api/resource/quantity.go): a signed decimal number, then a binary suffix
 * (Ki Mi Gi Ti Pi Ei), a decimal suffix (n u m "" k M G T P E) or a decimal exponent (e3, E3).
 * Undefined for anything else: a value the function cannot read counts as nothing requested, never
 * as a crash.
 */
const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const DECIMAL: Record<string, number> = { n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };
const QUANTITY = /^([+-]?(?:\d+\.?\d*|\.\d+))(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\d+)?$/;

/** The quantity as a plain number (cores for CPU, bytes for memory), or undefined. */
export function parseQuantity(text: unknown): number | undefined {
  if (typeof text === 'number') return Number.isFinite(text) ? text : undefined;
  if (typeof text !== 'string' || text.length > 64) return undefined;
  const match = QUANTITY.exec(text.trim());
  if (match === null) return undefined;
  const value = Number(match[1]);
  const suffix = match[2] ?? '';
  const factor = BINARY[suffix] ?? DECIMAL[suffix] ?? (/^[eE]/.test(suffix) ? 10 ** Number(suffix.slice(1)) : undefined);
  if (factor === undefined) return undefined;
  const result = value * factor;
  return Number.isFinite(result) ? result : undefined;
}

/** CPU in millicores ("500m" → 500, "2" → 2000). */
export function cpuMillis(text: unknown): number | undefined {
  const cores = parseQuantity(text);
  return cores === undefined ? undefined : Math.round(cores * 1000);
}

/** Memory in bytes ("1Gi" → 1073741824). */
export function memoryBytes(text: unknown): number | undefined {
  const bytes = parseQuantity(text);
  return bytes === undefined ? undefined : Math.round(bytes);
}
