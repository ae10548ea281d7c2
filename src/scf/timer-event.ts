/**
 * The event an SCF timer trigger invokes the function with (触发器事件消息结构汇总,
 * cloud.tencent.com/document/product/583/31927):
 *
 *   {"Type": "Timer", "TriggerName": "EveryDay", "Time": "2019-02-21T11:49:00Z", "Message": "user define msg body"}
 *
 * Timer invocations are asynchronous (583/9708): nobody reads the answer. An HTTP request never
 * has this shape at the top level (a Function URL's or API Gateway's event wraps the body), so a
 * caller of the URL cannot pass for the timer.
 */
export interface TimerEvent {
  readonly Type: 'Timer';
  readonly TriggerName: string;
  readonly Time: string;
  readonly Message?: string;
}

export function isTimerEvent(event: unknown): event is TimerEvent {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) return false;
  const e = event as Record<string, unknown>;
  return e.Type === 'Timer' && typeof e.TriggerName === 'string' && typeof e.Time === 'string' && (e.Message === undefined || typeof e.Message === 'string') && e.httpMethod === undefined;
}
