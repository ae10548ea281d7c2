import { UnauthorizedError } from '../errors';

/**
 * The replay window every signing sender has: a signed timestamp header must be a plain number of
 * seconds (or milliseconds, DingTalk) and within `toleranceSeconds` of the function's clock, either
 * way. Throws 401 naming the header; says how far off it is, never what was expected of the secret.
 */
export function checkTimestampWindow(
  header: string,
  value: string,
  nowMs: number,
  toleranceSeconds: number,
  unit: 'seconds' | 'milliseconds' = 'seconds',
): void {
  const digits = unit === 'seconds' ? /^\d{1,12}$/ : /^\d{1,15}$/;
  if (!digits.test(value)) throw new UnauthorizedError(`${header} must be unix ${unit}`);
  const valueMs = unit === 'seconds' ? Number(value) * 1000 : Number(value);
  const skew = Math.abs(nowMs - valueMs) / 1000;
  if (skew > toleranceSeconds) throw new UnauthorizedError(`${header} is ${Math.round(skew)} s from now; the window is ${toleranceSeconds} s`);
}
