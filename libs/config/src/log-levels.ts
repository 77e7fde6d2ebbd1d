import type { LogLevel } from '@nestjs/common';

/** Nest logger levels for a LOG_LEVEL setting. */
export function nestLogLevels(level: 'debug' | 'info' | 'warn' | 'error'): LogLevel[] {
  switch (level) {
    case 'debug':
      return ['debug', 'log', 'warn', 'error', 'fatal'];
    case 'info':
      return ['log', 'warn', 'error', 'fatal'];
    case 'warn':
      return ['warn', 'error', 'fatal'];
    case 'error':
      return ['error', 'fatal'];
  }
}
