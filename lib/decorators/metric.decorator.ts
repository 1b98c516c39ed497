import { METRIC_DECORATORS_METADATA } from './decorator.constants.js';
import type { MetricKind } from '../core/samples.js';
import { type MetricDeclaration, type MetricDecoratorOptions, recordDeclaration } from './metric-declarations.js';

/**
 * Builds a method or class decorator that only stores its declaration as metadata; the methods
 * are instrumented once at bootstrap, so the decorator's place among others does not matter.
 */
export function createMetricDecorator(
  type: MetricKind,
  options: MetricDecoratorOptions,
): ClassDecorator & MethodDecorator {
  const declaration: MetricDeclaration = { type, options };
  recordDeclaration(declaration);
  return (target: object, key?: string | symbol, descriptor?: PropertyDescriptor) => {
    const holder = (descriptor ? descriptor.value : target) as object;
    declaration.owner ??= descriptor ? (target as { constructor: unknown }).constructor : target;
    declaration.declaredAt ??= descriptor
      ? `${(target as { constructor: { name: string } }).constructor.name}.${String(key)}`
      : (target as { name: string }).name;
    const existing =
      (Reflect.getOwnMetadata(METRIC_DECORATORS_METADATA, holder) as MetricDeclaration[] | undefined) ?? [];
    Reflect.defineMetadata(METRIC_DECORATORS_METADATA, [...existing, declaration], holder);
  };
}
