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

export function createLogger(destination: DestinationStream = pino.destination({ dest: 1, sync: true }), level = process.env.LOG_LEVEL ?? 'info'): Logger {
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
