/** Senders whose payloads are alarms, matched by rules (chat senders name cluster and template themselves). */
export const ALERT_SOURCES = ['alertmanager', 'grafana', 'tencent-monitor'] as const;
export type AlertSourceName = (typeof ALERT_SOURCES)[number];
