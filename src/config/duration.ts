/**
 * A duration as Alertmanager's config writes one (30s, 10m, 1h), in seconds. The schema checks the
 * form (config/schema.ts); the rules read it at run time without loading the schema.
 */
export function durationSeconds(duration: string): number {
  const unit = duration.slice(-1);
  return Number(duration.slice(0, -1)) * (unit === 'h' ? 3600 : unit === 'm' ? 60 : 1);
}
