import type { LoggerService } from '@nestjs/common';

/**
 * A Nest logger that keeps what it is given, so a test can assert the module's warnings:
 * `createNestApplication(adapter, { logger })`, then `logger.warningsOf('PrometheusModule')`.
 */
export class CapturingLogger implements LoggerService {
  readonly entries: { level: string; message: string; context?: unknown }[] = [];
  private record(level: string, message: unknown, params: unknown[]): void {
    this.entries.push({ level, message: String(message), context: params[params.length - 1] });
  }
  log(message: unknown, ...params: unknown[]): void {
    this.record('log', message, params);
  }
  error(message: unknown, ...params: unknown[]): void {
    this.record('error', message, params);
  }
  warn(message: unknown, ...params: unknown[]): void {
    this.record('warn', message, params);
  }
  debug(message: unknown, ...params: unknown[]): void {
    this.record('debug', message, params);
  }
  verbose(message: unknown, ...params: unknown[]): void {
    this.record('verbose', message, params);
  }
  fatal(message: unknown, ...params: unknown[]): void {
    this.record('fatal', message, params);
  }
  /** The warnings logged under `context`. */
  warningsOf(context: string): string[] {
    return this.entries.filter(e => e.level === 'warn' && e.context === context).map(e => e.message);
  }
  /** The warnings logged under `context` (the module's by default) that mention `text`. */
  warningsAbout(text: string, context = 'PrometheusModule'): string[] {
    return this.warningsOf(context).filter(message => message.includes(text));
  }
  /** The errors logged (any context). */
  errors(): string[] {
    return this.entries.filter(e => e.level === 'error' || e.level === 'fatal').map(e => e.message);
  }
}
