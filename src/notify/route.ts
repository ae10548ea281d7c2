import type { NotifyConfig } from '../config/schema';
import type { Notice } from '../core/notice';

/**
 * The sinks a notice goes to: the most specific route wins, as in Alertmanager's routing tree: the
 * rule whose alarm asked (`notify.rules`), else the cluster's (`notify.clusters`), else
 * `notify.default`. Then each sink's `events` filter. Pure; the config checked every name.
 */
export function sinksFor(notify: NotifyConfig, notice: Notice): string[] {
  const rule = notice.why.origin?.kind === 'alert' ? notice.why.origin.rule : undefined;
  const route = (rule !== undefined ? notify.rules[rule] : undefined) ?? notify.clusters[notice.cluster] ?? notify.default;
  return [...new Set(route)].filter((name) => {
    const events = notify.sinks[name]?.events;
    return events === undefined || events.includes(notice.kind);
  });
}
