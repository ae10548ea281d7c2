import { ScaleOutError } from '../../src/errors';

/** Runs `run`, which must throw an error of `errorClass` (default: any ScaleOutError), and returns it. */
export function thrownBy<E extends Error = ScaleOutError>(run: () => unknown, errorClass: abstract new (...args: never[]) => E = ScaleOutError as never): E {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(errorClass);
    return error as E;
  }
  throw new Error(`expected ${errorClass.name} to be thrown`);
}
