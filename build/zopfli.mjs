// Deflate with Zopfli, for the entries of the zip (build/zip.mjs): the same deflate format every
// unzip reads, ~4% smaller than zlib's best level, which on the code cache and the bundle is ~17 KB
// of the zip. @gfx/zopfli is Zopfli compiled to WebAssembly: a development dependency for
// packaging, never part of the function.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
/** One iteration: the further ones (Zopfli's default is 15) take seconds for under 0.2 % more. */
const ITERATIONS = 1;

/** `{ deflate }`, a raw deflate (Buffer -> Promise<Buffer>) by Zopfli, or `{ reason }` it cannot be had. */
export function zopfliDeflate() {
  let zopfli;
  try {
    zopfli = require('@gfx/zopfli');
  } catch (error) {
    return { reason: error.message.split('\n')[0] };
  }
  return {
    deflate: (data) =>
      new Promise((resolveDeflated, reject) =>
        zopfli.deflate(data, { numiterations: ITERATIONS }, (error, deflated) => (error ? reject(error) : resolveDeflated(Buffer.from(deflated)))),
      ),
  };
}
