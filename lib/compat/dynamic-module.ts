import type { DynamicModule } from '@nestjs/common';

/**
 * Makes the dynamic module carry `definitions` as data, so that NestJS 10 tells two of them apart.
 *
 * Relies on: NestJS 10's default module id (`DeepHashedModuleOpaqueKeyFactory`) hashing a dynamic
 * module's own properties serialized, functions by their source text. Two `forFeature()` modules
 * whose providers differ only in what their factories close over (a counter and a summary of one
 * name) serialize alike, and Nest 10 keeps only the first: the second definition would be
 * dropped silently instead of failing at bootstrap. NestJS 11 and 12 identify dynamic modules by
 * reference and ignore the extra property. Breaks: test/inject-metric ("two forFeature() with
 * another type") on NestJS 10.
 */
export function identifiedByDefinitions(module: DynamicModule, definitions: unknown): DynamicModule {
  return Object.assign(module, { nestjsPromMetricsDefinitions: definitions });
}
