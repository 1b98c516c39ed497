import type { ArgumentsHost } from '@nestjs/common';
import type { ModuleRef, ModulesContainer } from '@nestjs/core';
import { globalExceptionFilters } from '../compat/exception-layer.js';
import { EXCEPTION_FILTERS_METADATA, FILTER_CATCH_EXCEPTIONS } from '../compat/nest-constants.js';
import { exceptionObserver, takeObservedException } from './exception-spy.js';

type CatchFn = (this: unknown, exception: unknown, host: ArgumentsHost) => unknown;
interface FilterLike {
  catch: CatchFn;
}

const observed = new WeakSet();

/**
 * Users' exception filters often answer by writing the response themselves
 * (`response.status(503).json(...)`), which the adapter never sees: their `catch` is wrapped
 * (before Nest binds it to the routes) to tell the module which exception the request ended with.
 * Filters come from `@UseFilters()` (instances and classes), `APP_FILTER` and `app.useGlobalFilters()`.
 */
export function observeExceptionFilters(
  modules: ModulesContainer,
  moduleRef: ModuleRef,
  routeFilterHolders: readonly object[],
  note: (request: unknown, exception: unknown) => void,
): void {
  const candidates: unknown[] = [];
  for (const module of modules.values()) {
    for (const wrapper of [...module.providers.values(), ...module.injectables.values()]) {
      const instance = wrapper.instance as object | undefined;
      if (instance && Reflect.getMetadata(FILTER_CATCH_EXCEPTIONS, instance.constructor) !== undefined) {
        candidates.push(instance);
      }
    }
  }
  for (const holder of routeFilterHolders) {
    candidates.push(...((Reflect.getMetadata(EXCEPTION_FILTERS_METADATA, holder) as unknown[] | undefined) ?? []));
  }
  candidates.push(...globalExceptionFilters(moduleRef));

  for (const candidate of candidates) {
    if (typeof candidate !== 'object' || candidate === null || candidate === exceptionObserver) continue;
    const filter = candidate as FilterLike;
    if (typeof filter.catch !== 'function' || observed.has(filter)) continue;
    observed.add(filter);
    const original = filter.catch;
    filter.catch = function (this: unknown, exception, host) {
      // Handled here: the observed exception must not be tied to another response.
      takeObservedException();
      if (host?.getType?.() === 'http') note(host.getArgByIndex(0), exception);
      return original.call(this, exception, host);
    };
  }
}
