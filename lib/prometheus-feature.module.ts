import { Module } from '@nestjs/common';

/**
 * The module `PrometheusModule.forFeature()` returns: metric providers, exported.
 *
 * @example
 * ```ts
 * @Module({ imports: [PrometheusModule.forFeature([{ type: 'counter', name: 'refunds_total', help: 'Refunds' }])] })
 * export class RefundsModule {}
 * ```
 * @public
 */
@Module({})
export class PrometheusFeatureModule {}
