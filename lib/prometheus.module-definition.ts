import { type CanActivate, ConfigurableModuleBuilder, type Type } from '@nestjs/common';
import type { PrometheusModuleOptions } from './interfaces/index.js';

/**
 * Options read when the module is defined, before any provider exists: Nest only instantiates
 * guard classes it finds on controllers while scanning modules, so guards (and decorators that
 * set metadata for the app's global guards) cannot come from an async factory.
 */
export interface PrometheusModuleExtras {
  /** Registers the module globally. Default `true`. */
  isGlobal?: boolean;
  /** Guards on the metrics endpoint (classes or instances), as `@UseGuards()` takes them. */
  guards?: (CanActivate | Type<CanActivate>)[];
  /**
   * Class decorators applied to the metrics controller, e.g. `[Public()]` so that the app's global
   * authentication guard lets scrapes through.
   */
  endpointDecorators?: ClassDecorator[];
}

export const {
  ConfigurableModuleClass,
  MODULE_OPTIONS_TOKEN: PROMETHEUS_MODULE_OPTIONS,
  OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<PrometheusModuleOptions>()
  .setClassMethodName('forRoot')
  .setFactoryMethodName('createPrometheusOptions')
  .setExtras<PrometheusModuleExtras>({ isGlobal: true }, (definition, extras) => ({
    ...definition,
    global: extras.isGlobal ?? true,
  }))
  .build();
