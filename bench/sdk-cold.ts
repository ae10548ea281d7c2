/**
 * The cold-start baseline: a fresh process that loads only the SDK's client and makes the one call
 * the function makes. bench/build.mjs bundles it twice: plainly, and with the function's shims.
 *   node sdk-cold.js <sandbox URL>
 */
import { sdkBaselineCall, sdkBaselineClient } from './sdk-baseline';

sdkBaselineCall(sdkBaselineClient(process.argv[2]!, 'ap-beijing'), `cold-${process.pid}-${Date.now()}`).then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
