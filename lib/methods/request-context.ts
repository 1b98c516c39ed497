import { AsyncLocalStorage } from 'node:async_hooks';

/** The HTTP request a decorated route handler is serving, for label functions (`ctx.request`). */
export const requestContext = new AsyncLocalStorage<unknown>();
