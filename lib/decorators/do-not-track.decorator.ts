import { SetMetadata } from '@nestjs/common';
import { DO_NOT_TRACK_METADATA } from './decorator.constants.js';

/**
 * Leaves a handler, or every handler of a controller, out of the default HTTP metrics (and a
 * microservice, gateway or resolver handler out of the transport metrics). Only stores metadata, so
 * its place among other decorators does not matter.
 *
 * @example
 * ```ts
 * @Controller('health')
 * @DoNotTrack()
 * export class HealthController {}
 * ```
 * @public
 */
export const DoNotTrack = (): ClassDecorator & MethodDecorator => SetMetadata(DO_NOT_TRACK_METADATA, true);
