/**
 * The zod every schema in src/ is built with, the config's and the senders' payloads': `zod/mini`,
 * zod's functional API over the same core, checks and messages as `zod`'s chained one, with its JIT
 * off and its messages in English.
 *
 * Why mini: classic zod's schema objects carry every method of the chained API, set up per schema,
 * and its code ships in the function whether or not a cold start builds a schema with it; a cold
 * start builds its sender's payload schema, and the code cache taken after the warm-up event
 * (build/make-code-cache.cjs) carried that API too (bench/NOTES.md, "Size"). zod/mini registers no
 * locale of its own (classic does, on its first schema), hence `en` here: without it every message
 * would be "Invalid input".
 *
 * zod compiles an object schema into a parser with `new Function` on its first parse, which pays
 * only over many parses; an SCF instance parses a handful of payloads. The switch must be set
 * before any schema is *built*: zod reads it when a schema is constructed, not when it parses, so a
 * `z.config()` in some module that happens to run after the senders' schemas were built leaves
 * them compiling (measured: it did, until this module). Importing zod from here guarantees the
 * order; `npm run depcheck` refuses a direct runtime import of 'zod' anywhere else in src/.
 */
import { en } from 'zod/locales';
import { config } from 'zod/mini';

config({ jitless: true, ...en() });

export * from 'zod/mini';

/**
 * A schema built on its first use and kept: an instance builds only the schemas of the senders it
 * hears from (a cold start answers one). zod's own `z.lazy` defers building too, but each ZodLazy is
 * itself a full schema object, about as costly to build as a small schema.
 */
export function builtOnFirstUse<T>(build: () => T): () => T {
  let built: T | undefined;
  return () => (built ??= build());
}
