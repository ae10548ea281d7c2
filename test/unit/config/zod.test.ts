/**
 * zod compiles an object schema into a parser with `new Function` on its first parse unless its JIT
 * is off when the schema is *built* (zod 4, core/schemas.ts: `$ZodObjectJIT` reads
 * `globalConfig.jitless` in its constructor). src/config/zod.ts turns it off before any schema of
 * ours exists; this pins that a sender's payload, parsed in a fresh module registry, compiles
 * nothing. (Setting it later, from the cold start, left the senders' schemas compiling.)
 */
import { webhookRequest } from '../../support/fixtures';

describe('src/config/zod.ts: the zod every schema is built with', () => {
  it('parses a sender payload without compiling code (the JIT is off before any schema is built)', () => {
    const RealFunction = globalThis.Function;
    let compiled = 0;
    globalThis.Function = new Proxy(RealFunction, {
      construct(target, args) {
        compiled += 1;
        return Reflect.construct(target, args);
      },
      apply(target, self, args) {
        compiled += 1;
        return Reflect.apply(target, self, args);
      },
    });
    try {
      jest.isolateModules(() => {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const { createGenericSource } = require('../../../src/sources/generic') as typeof import('../../../src/sources/generic');
        const source = createGenericSource({ auth: { bearer: { tokenEnv: 'T' } } }, { T: 'x' });
        const interpretation = source.interpret(webhookRequest({ json: { eventId: 'e-1', cluster: 'demo', template: 'small', params: { a: 1 } } }), 0);
        expect(interpretation).toMatchObject({ kind: 'scale-out', requests: [{ eventId: 'e-1', cluster: 'demo' }] });
      });
    } finally {
      globalThis.Function = RealFunction;
    }
    expect(compiled).toBe(0);
  });

  // zod/mini, unlike zod's chained API, registers no locale: src/config/zod.ts sets English, or
  // every message of zod's own would read "Invalid input" (a payload's 400, a config's problems).
  it("puts zod's own problems in English", () => {
    // zod keeps its settings on globalThis (zod 4, core/core.ts: __zod_globalConfig): as in a fresh process.
    const settings = (globalThis as { __zod_globalConfig?: Record<string, unknown> }).__zod_globalConfig;
    if (settings !== undefined) delete settings.localeError;
    jest.isolateModules(() => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { createGenericSource } = require('../../../src/sources/generic') as typeof import('../../../src/sources/generic');
      const source = createGenericSource({ auth: 'none' }, {});
      expect(() => source.interpret(webhookRequest({ json: { eventId: 5, cluster: 'demo', template: 'small' } }), 0)).toThrow('eventId: Invalid input: expected string, received number');
    });
  });
});
