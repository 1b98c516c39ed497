import { type CallHandler, type ExecutionContext, Injectable, type NestInterceptor } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { catchError, Observable, throwError } from 'rxjs';
import { MethodMetricsExplorer } from '../method-metrics/method-metrics.explorer.js';
import { requestContext } from '../method-metrics/request-context.js';
import { DO_NOT_TRACK_METADATA } from '../prometheus.constants.js';
import { HttpMetricsService } from './http-metrics.service.js';

/**
 * Tells the HTTP metrics what only Nest knows: `@DoNotTrack()` on the handler or its class, and
 * the class of an error the handler threw. Responses themselves are counted at their end by the
 * adapter hooks, which also see guard rejections, 404s and body-parser errors. Handlers with metric
 * decorators get the request for their label functions (`ctx.request`).
 */
@Injectable()
export class HttpMetricsInterceptor implements NestInterceptor {
  private readonly untracked = new Map<object, boolean>();

  constructor(
    private readonly http: HttpMetricsService,
    private readonly reflector: Reflector,
    private readonly explorer: MethodMetricsExplorer,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    const request: unknown = context.getArgByIndex(0);
    const record = this.http.handlerStarted(request as object, this.isUntracked(context));
    // The handler runs inside the subscription: subscribe within the request's context.
    const handled = this.explorer.routeHandlers.has(context.getHandler())
      ? new Observable<unknown>(subscriber => requestContext.run(request, () => next.handle().subscribe(subscriber)))
      : next.handle();
    if (record === undefined) return handled;
    return handled.pipe(
      catchError((error: unknown) => {
        record.exception = exceptionName(error);
        return throwError(() => error);
      }),
    );
  }

  private isUntracked(context: ExecutionContext): boolean {
    const handler = context.getHandler();
    let untracked = this.untracked.get(handler);
    if (untracked === undefined) {
      untracked =
        this.reflector.getAllAndOverride<boolean>(DO_NOT_TRACK_METADATA, [handler, context.getClass()]) === true;
      this.untracked.set(handler, untracked);
    }
    return untracked;
  }
}

function exceptionName(error: unknown): string {
  if (typeof error === 'object' && error !== null) return error.constructor?.name || 'Object';
  return typeof error;
}
