import { coldStart } from './cold-start';

/**
 * SCF entry: handler `index.main_handler`. Built at module load, i.e. once per cold start; a bad
 * config or environment fails the instance's start with a log line naming the key.
 */
export const main_handler = coldStart().handler;
