import { Controller, Get, VERSION_NEUTRAL } from '@nestjs/common';
import { DoNotTrack } from '../lib/index.js';

/** Probed every few seconds by the orchestrator: kept out of the request metrics. */
@Controller({ path: 'health', version: VERSION_NEUTRAL })
@DoNotTrack()
export class HealthController {
  @Get()
  check(): { status: string } {
    return { status: 'ok' };
  }
}
