// Shared by the cardinality suites (test/cardinality*.e2e-spec.ts): the module on a registry of its
// own, a logged application context, and readers of the overflow series.
import { type INestApplicationContext, type LoggerService, Module, type ModuleMetadata } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { Registry } from 'prom-client';
import { PrometheusModule, type PrometheusModuleOptions } from '../../lib/index.js';
import type { Exposition } from './exposition.js';

export const OVERFLOW = '__overflow__';
export const OVERFLOW_TOTAL = 'prometheus_series_overflow_total';

/** The module on `registry` with `options`, without prom-client's default metrics. */
export function prometheus(registry: Registry, options: PrometheusModuleOptions = {}) {
  return PrometheusModule.forRoot({ registry, defaultMetrics: { enabled: false }, ...options });
}

/** A non-HTTP application logging into `logger`. */
export async function createLoggedContext(
  metadata: ModuleMetadata,
  logger: LoggerService,
): Promise<INestApplicationContext> {
  @Module(metadata)
  class CardinalityContextModule {}
  const ctx = await NestFactory.createApplicationContext(CardinalityContextModule, { logger, abortOnError: false });
  await ctx.init();
  return ctx;
}

/** Distinct label sets of a family (a histogram's `le` left out), as JSON. */
export function labelSets(exp: Exposition, family: string): string[] {
  const samples = exp.families.get(family)?.samples ?? [];
  const sets = new Set<string>();
  for (const s of samples) {
    const { le: _le, quantile: _quantile, ...labels } = s.labels;
    sets.add(JSON.stringify(Object.entries(labels).sort()));
  }
  return [...sets];
}

export function isOverflow(labels: Record<string, string>): boolean {
  const names = Object.keys(labels).filter(n => n !== 'le' && n !== 'quantile');
  return names.length > 0 && names.every(n => labels[n] === OVERFLOW);
}

/** First-come admission, as the contract describes it: the first `cap` distinct keys keep their series. */
export function admissionModel(keys: string[], cap: number): { admitted: Map<string, number>; overflow: number } {
  const admitted = new Map<string, number>();
  let overflow = 0;
  for (const key of keys) {
    if (admitted.has(key)) admitted.set(key, admitted.get(key)! + 1);
    else if (admitted.size < cap) admitted.set(key, 1);
    else overflow++;
  }
  return { admitted, overflow };
}
