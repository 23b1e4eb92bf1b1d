import type { LoggerOptions } from 'pino'
import type { Config } from './config.js'
import { secretNames } from './config.js'

/** pino options: JSON lines, secrets redacted wherever they could appear. */
export function loggerOptions(config: Config): LoggerOptions {
  const pretty = process.stdout.isTTY && !process.env.AWS_LAMBDA_FUNCTION_NAME && prettyPrinterInstalled()
  return {
    level: config.LOG_LEVEL,
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers["x-api-key"]',
        'req.headers.cookie',
        'headers.authorization',
        'headers["x-api-key"]',
        'headers.cookie',
        // Node's HTTP parser hands Fastify the raw bytes of a request it refused, headers and all.
        'err.rawPacket',
        ...secretNames,
        ...secretNames.map((name) => `*.${name}`),
        'password',
        '*.password',
        'auth',
        '*.auth',
      ],
      censor: '[redacted]',
    },
    ...(pretty ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } } : {}),
  }
}

/** pino-pretty is a development dependency: a production install logs JSON even on a terminal. */
function prettyPrinterInstalled(): boolean {
  try {
    import.meta.resolve('pino-pretty')
    return true
  } catch {
    return false
  }
}
