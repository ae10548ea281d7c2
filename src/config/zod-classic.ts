/**
 * zod's chained API (`zod`), for the config schema (schema.ts) only: the same core, checks and
 * messages as the payloads' `zod/mini`, whose switches (JIT off, English) zod.ts sets, imported
 * first here so that they are set before any schema is built. Only the config schema imports it,
 * and the config schema is loaded only when a config is validated afresh (schema-module.ts).
 */
import './zod';

export * from 'zod';
