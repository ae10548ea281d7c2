/**
 * What a TKE node is made of, for the Kubernetes API stand-in (kube-sandbox.ts): its size from the
 * CVM instance type, its allocatable resources by TKE's documented reservation, the zone and region
 * forms TKE's labels and providerID use, and Kubernetes resource quantities. Pure.
 */

/** A node's size when the instance type's name does not say it (or to override it). */
export interface SandboxNodeSize {
  readonly cpu: number;
  readonly memoryGiB: number;
}

/** The node size when the instance type's name does not say it: 2 cores, 4 GiB. */
const DEFAULT_NODE_SIZE: SandboxNodeSize = { cpu: 2, memoryGiB: 4 };
/** The kubelet's default hard eviction threshold, `memory.available<100Mi`, also taken from allocatable. */
const EVICTION_HARD_MEMORY_KI = 100 * 1024;
/**
 * CVM's numeric zone IDs: region base + the zone's number (ap-guangzhou-3 → 100003, ap-shanghai-2 →
 * 200002, ap-beijing-5 → 800005: CVM DescribeZones answers and captured TKE nodes). Other regions:
 * unconfirmed, the sandbox uses the zone's name.
 */
const ZONE_ID_BASE: Readonly<Record<string, number>> = { 'ap-guangzhou': 100000, 'ap-shanghai': 200000, 'ap-beijing': 800000 };
/** TKE's short region names in `topology.kubernetes.io/region` ("gz" on a captured node; bj and sh as TKE abbreviates them). Others: the region's name, unconfirmed. */
const REGION_SHORT_NAME: Readonly<Record<string, string>> = { 'ap-guangzhou': 'gz', 'ap-shanghai': 'sh', 'ap-beijing': 'bj' };

/**
 * CVM's instance type names say the size: `<family>.<size><memory GiB>`, SMALL 1 core, MEDIUM 2,
 * LARGE 4, <n>XLARGE 4n (S5.MEDIUM4: 2 cores, 4 GiB; S5.2XLARGE16: 8 cores, 16 GiB; SA3.MEDIUM2:
 * 2 cores, 2 GiB). Undefined when the name does not follow it.
 */
export function sizeFromInstanceType(instanceType: string): SandboxNodeSize | undefined {
  const match = /^[A-Z0-9]+\.(SMALL|MEDIUM|LARGE|(\d+)XLARGE)(\d+)$/.exec(instanceType);
  if (match === null) return undefined;
  const cpu = match[1] === 'SMALL' ? 1 : match[1] === 'MEDIUM' ? 2 : match[1] === 'LARGE' ? 4 : 4 * Number(match[2]);
  return { cpu, memoryGiB: Number(match[3]) };
}

/**
 * Allocatable = capacity − TKE's reservation (tencentcloud.com/document/product/457/48777) − the
 * kubelet's hard eviction threshold for memory (100Mi). CPU: 0.1 core up to 4 cores, 2.5 % of
 * cores 4-64, 1.25 % of 64-128, 0.5 % above. Memory: 25 % of the first 4 GiB, 20 % of 4-8, 10 % of
 * 8-16, 6 % of 16-128, 2 % above (the page's "GB"; 8 GB reserves 1,843 MB: binary units).
 */
export function allocatableOf(size: SandboxNodeSize): { milliCpu: number; memoryKi: number } {
  const tiers = (amount: number, steps: ReadonlyArray<readonly [number, number]>) => {
    let reserved = 0;
    let below = 0;
    for (const [upTo, share] of steps) {
      reserved += Math.max(0, Math.min(amount, upTo) - below) * share;
      below = upTo;
    }
    return reserved;
  };
  const cpuReserved = size.cpu <= 4 ? 0.1 : 0.1 + tiers(size.cpu, [[4, 0], [64, 0.025], [128, 0.0125], [Infinity, 0.005]]);
  const memoryReservedGiB = tiers(size.memoryGiB, [[4, 0.25], [8, 0.2], [16, 0.1], [128, 0.06], [Infinity, 0.02]]);
  return {
    milliCpu: Math.round((size.cpu - cpuReserved) * 1000),
    memoryKi: Math.floor((size.memoryGiB - memoryReservedGiB) * 1024 * 1024) - EVICTION_HARD_MEMORY_KI,
  };
}

/** CVM's numeric zone ID of a zone (ap-guangzhou-3 → "100003"), or the zone's name where the sandbox does not know it. */
export function zoneIdOf(zone: string): string {
  const match = /^(.*)-(\d+)$/.exec(zone);
  const base = match === null ? undefined : ZONE_ID_BASE[match[1]!];
  return base === undefined ? zone : String(base + Number(match![2]));
}

const QUANTITY = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:(Ki|Mi|Gi|Ti|Pi|Ei)|([eE][+-]?\d+)|(n|u|m|k|M|G|T|P|E))?$/;
const BINARY: Readonly<Record<string, number>> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const DECIMAL: Readonly<Record<string, number>> = { n: 1e-9, u: 1e-6, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };

/** A resource quantity (kubernetes.io/docs/reference/kubernetes-api/common-definitions/quantity/): "500m" → 0.5, "1Gi" → 1073741824. */
export function parseQuantity(text: string): number {
  const match = QUANTITY.exec(text);
  if (match === null) throw new Error(`quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': ${JSON.stringify(text)}`);
  const number = Number(match[1]);
  if (match[2] !== undefined) return number * BINARY[match[2]]!;
  if (match[3] !== undefined) return number * 10 ** Number(match[3].slice(1));
  if (match[4] !== undefined) return number * DECIMAL[match[4]]!;
  return number;
}

/** The node's size: the override for its type, else what the type's name says, else 2 cores and 4 GiB. */
export function nodeSizeOf(instanceType: string, overrides: Readonly<Record<string, SandboxNodeSize>> = {}): SandboxNodeSize {
  return overrides[instanceType] ?? sizeFromInstanceType(instanceType) ?? DEFAULT_NODE_SIZE;
}

/** TKE's short region name of a zone's region (ap-guangzhou-3 → "gz"), or the region's name where the sandbox does not know it. */
export function regionLabelOf(zone: string): string {
  const region = zone.replace(/-\d+$/, '');
  return REGION_SHORT_NAME[region] ?? region;
}
