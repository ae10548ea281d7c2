import type { ScaleOutAnswer } from '../core/idempotency';

/** The success body every JSON sender gets for one scale-out: created now, or replayed. */
export function scaleOutAnswerBody(status: 'created' | 'replayed', answer: ScaleOutAnswer): Record<string, unknown> {
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
  };
}
