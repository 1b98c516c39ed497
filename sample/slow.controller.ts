import { Controller, Get, ParseIntPipe, Query } from '@nestjs/common';

/** Answers after `ms` milliseconds (at most 5 s): latencies a test or a demo controls. */
@Controller({ path: 'slow', version: '1' })
export class SlowController {
  @Get()
  async wait(@Query('ms', ParseIntPipe) ms: number): Promise<{ sleptMs: number }> {
    const sleptMs = Math.min(Math.max(ms, 0), 5000);
    await new Promise(resolve => setTimeout(resolve, sleptMs));
    return { sleptMs };
  }
}
