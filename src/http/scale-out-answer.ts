import type { ScaleOutAnswer } from '../core/idempotency';
import type { CreateClusterInstancesRequest } from '../tke/tke-params';

/** created now; restored: every node asked for put back in service, nothing bought; replayed from the record; dry-run: rendered, nothing sent. */
export type ScaleOutStatus = 'created' | 'restored' | 'replayed' | 'dry-run';

/** The success body every JSON sender gets for one scale-out. */
export function scaleOutAnswerBody(status: ScaleOutStatus, answer: ScaleOutAnswer, preview?: CreateClusterInstancesRequest): Record<string, unknown> {
  return {
    status,
    eventId: answer.eventId,
    clusterId: answer.clusterId,
    template: answer.template,
    count: answer.count,
    ...(answer.clampedBy !== undefined && { requestedCount: answer.requestedCount, clampedBy: answer.clampedBy }),
    clientToken: answer.clientToken,
    instanceIds: answer.instanceIds,
    requestId: answer.requestId,
    ...(answer.sizing !== undefined && { sizing: answer.sizing }),
    ...(answer.period !== undefined && { period: answer.period }),
    ...(answer.bought !== undefined && { bought: answer.bought }),
    ...(answer.skipped !== undefined && { skipped: answer.skipped }),
    ...(answer.restored !== undefined && { [status === 'dry-run' ? 'wouldRestore' : 'restored']: answer.restored }),
    ...(preview !== undefined && { wouldSend: preview }),
    ...(answer.plan !== undefined && { ladder: answer.plan.rungs, ...(answer.plan.budgetLeft !== undefined && { budgetLeft: answer.plan.budgetLeft }) }),
  };
}
