import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { PrometheusModuleOptions } from './interfaces/index.js';

export const {
  ConfigurableModuleClass,
  MODULE_OPTIONS_TOKEN: PROMETHEUS_MODULE_OPTIONS,
  OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<PrometheusModuleOptions>()
  .setClassMethodName('forRoot')
  .setFactoryMethodName('createPrometheusOptions')
  .setExtras({ isGlobal: true }, (definition, extras) => ({ ...definition, global: extras.isGlobal }))
  .build();
