/**
 * The config schema (schema.ts), loaded on first use rather than imported: a packaged function
 * whose validated form matches its config file never needs it (validated-form.ts), and building it
 * costs a cold start on SCF's Node 18 (docs/PERFORMANCE.md).
 */
export function schemaModule(): typeof import('./schema') {
  return require('./schema') as typeof import('./schema');
}
