/**
 * The zod every schema in src/ is built with: zod itself, with its JIT off.
 *
 * zod compiles an object schema into a parser with `new Function` on its first parse, which pays
 * only over many parses; an SCF instance parses a handful of payloads. The switch must be set
 * before any schema is *built*: zod reads it when a schema is constructed, not when it parses, so a
 * `z.config()` in some module that happens to run after the senders' schemas were built leaves
 * them compiling (measured: it did, until this module). Importing zod from here guarantees the
 * order; `npm run depcheck` refuses a direct runtime import of 'zod' anywhere else in src/.
 */
import { config } from 'zod';

config({ jitless: true });

export * from 'zod';

/**
 * A schema built on its first use and kept: an instance builds only the schemas of the senders it
 * hears from (a cold start answers one). zod's own `z.lazy` defers building too, but each ZodLazy is
 * itself a full schema object, about as costly to build as a small schema.
 */
export function builtOnFirstUse<T>(build: () => T): () => T {
  let built: T | undefined;
  return () => (built ??= build());
}
