import type { CallHandler, ExecutionContext, NestInterceptor } from '@nestjs/common';
import { Observable } from 'rxjs';
import { requestContext } from './request-context.js';

/**
 * Put only on route handlers whose metric labels are functions: runs the handler inside the
 * request's context, so label functions can read `ctx.request`.
 */
export class RequestContextInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    const request: unknown = context.getArgByIndex(0);
    // The handler runs inside the subscription: subscribe within the request's context.
    return new Observable(subscriber => requestContext.run(request, () => next.handle().subscribe(subscriber)));
  }
}

export const requestContextInterceptor = new RequestContextInterceptor();
