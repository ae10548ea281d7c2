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
});
