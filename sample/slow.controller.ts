import { Controller, Get, ParseIntPipe, Query } from '@nestjs/common';

/**
 * Answers after `ms` milliseconds (at most 5 s): latencies a test or a demo controls.
 * `/slow/:tag` is the same on a route template of its own (a series of its own).
 */
@Controller({ path: 'slow', version: '1' })
export class SlowController {
  @Get()
  wait(@Query('ms', ParseIntPipe) ms: number): Promise<{ sleptMs: number }> {
    return sleep(ms);
  }

  @Get(':tag')
  waitTagged(@Query('ms', ParseIntPipe) ms: number): Promise<{ sleptMs: number }> {
    return sleep(ms);
  }
}

async function sleep(ms: number): Promise<{ sleptMs: number }> {
  const sleptMs = Math.min(Math.max(ms, 0), 5000);
  await new Promise(resolve => setTimeout(resolve, sleptMs));
  return { sleptMs };
}
