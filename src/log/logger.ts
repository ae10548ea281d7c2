import { writeSync } from 'node:fs';
import pino, { type DestinationStream, type Logger } from 'pino';

export type { Logger };

/**
 * Structured JSON lines on stdout: SCF ships stdout to its log service (CLS), one record a line.
 * Synchronous writes, so a line is not lost when the instance freezes right after answering.
 *
 * Nothing secret is ever put in a log field on purpose; the redact list is the second line of
 * defence in case a header map or a credential object is logged by mistake.
 */
export const REDACTED_PATHS = [
  'headers.authorization',
  'headers.cookie',
  'headers["x-scaleout-signature"]',
  '*.headers.authorization',
  'authorization',
  'token',
  'secret',
  'secretKey',
  'secretId',
  'password',
  '*.token',
  '*.secret',
  '*.secretKey',
  '*.secretId',
  '*.password',
];

/**
 * Standard output, written synchronously: what pino.destination({ dest: 1, sync: true }) does with
 * sonic-boom, without shipping sonic-boom (build/shims/sonic-boom.js, for the zip's size). Like
 * sonic-boom in sync mode it writes until the whole line is out, and waits and tries again while a
 * non-blocking stdout answers EAGAIN (a full pipe), so a line is neither cut nor lost, and nothing
 * is buffered when the instance freezes.
 */
export function syncWriter(fd: number, write: (fd: number, data: Buffer) => number = writeSync): DestinationStream {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  return {
    write(line: string): void {
      let rest = Buffer.from(line);
      let waits = 0;
      while (rest.length > 0) {
        try {
          rest = rest.subarray(write(fd, rest));
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'EAGAIN' || ++waits > MAX_EAGAIN_WAITS) throw error;
          Atomics.wait(pause, 0, 0, EAGAIN_WAIT_MS);
        }
      }
    },
  };
}

/** sonic-boom's own: 100 ms a wait, and it gives up after ~10 s. */
const EAGAIN_WAIT_MS = 100;
const MAX_EAGAIN_WAITS = 100;

export function createLogger(destination: DestinationStream = syncWriter(1), level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino(
    {
      level,
      base: { service: 'tke-scaleout' },
      timestamp: pino.stdTimeFunctions.isoTime,
      messageKey: 'msg',
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    },
    destination,
  );
}
