import { Module } from '@nestjs/common';

/** The module `PrometheusModule.forFeature()` returns: metric providers, exported. */
@Module({})
export class PrometheusFeatureModule {}
