import type { TemplateConfig } from './model';
import { NODES_FAILED_CODE, type Offering } from './sold-out';
import type { CostKind } from './model';

/**
 * A template's fallback ladder, as data: rung 1 is the template as written, rung n + 1 its n-th
 * alternative (config `ladder.alternatives`, checked by config/template-ladder.ts). When CVM refuses a
 * rung for lack of stock (tke/tke-errors.ts, capacityCodeOf), the next rung is tried at once, within
 * the invocation's time; any other refusal ends the climb. Each rung renders its own request and
 * therefore its own ClientToken (core/render.ts). scale-out/climb.ts climbs it.
 */
export function rungCountOf(template: TemplateConfig): number {
  return 1 + (template.ladder?.alternatives.length ?? 0);
}

/** What became of one rung in one delivery: the answer and the log line list them in order. */
export interface RungStep extends Offering {
  readonly rung: number;
  readonly outcome: 'bought' | 'sold-out' | 'sold-out-recently' | 'over-budget' | 'refused' | 'unknown';
  /** The refusal's code (sold-out, refused, unknown). */
  readonly code?: string;
  /** sold-out-recently: until when the mark holds. */
  readonly until?: string;
  readonly price?: { readonly amount: number; readonly kind: CostKind; readonly currency: string };
  readonly clientToken?: string;
}

/** One line for a chat reply or a log reader: "rung 2: S5.MEDIUM4 in ap-beijing-5 (POSTPAID_BY_HOUR), 0.62 CNY/h". */
export function describeStep(step: RungStep): string {
  const price = step.price === undefined ? '' : `, ${step.price.amount.toFixed(2)} ${step.price.currency}${step.price.kind === 'hourly' ? '/h' : ''}`;
  const why: Record<RungStep['outcome'], string> = {
    bought: 'bought',
    'sold-out': `sold out (${step.code ?? 'capacity'})`,
    'sold-out-recently':
      step.code === NODES_FAILED_CODE
        ? `skipped: its nodes failed to join recently, backing off (until ${step.until ?? '?'})`
        : `skipped: sold out recently (until ${step.until ?? '?'})`,
    'over-budget': 'skipped: over the money budget',
    refused: `refused (${step.code ?? '?'})`,
    unknown: 'outcome unknown',
  };
  return `rung ${step.rung} ${step.instanceType} in ${step.zone} (${step.chargeType})${price}: ${why[step.outcome]}`;
}

/** A dry run's view of one rung: what it would send, and whether it would be skipped now. */
export interface RungPreview extends Offering {
  readonly rung: number;
  readonly clientToken: string;
  readonly soldOutUntil?: string;
  readonly price?: { readonly amount: number; readonly kind: CostKind; readonly currency: string };
  /** Why no price could be had (a budget then fails closed). */
  readonly priceUnavailable?: string;
  readonly wouldSkip?: 'sold-out-recently' | 'over-budget';
}

/** A dry run's plan: every rung in order, and what the money budgets leave (the tightest, per kind). */
export interface LadderPlan {
  readonly rungs: readonly RungPreview[];
  readonly budgetLeft?: { readonly currency: string; readonly hourly?: number; readonly prepaid?: number };
}
