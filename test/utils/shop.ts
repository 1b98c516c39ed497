// Fixtures shared by the extension-point suites (extension-points, endpoint-name-filter,
// enabled-false): a controller with a parameterised route, a body, an exception and a
// @DoNotTrack() route, and a reader of the HTTP families in a scrape.
import { Body, Controller, Get, Param, Post } from '@nestjs/common';
import { DoNotTrack } from '../../lib/index.js';
import type { Exposition } from './exposition.js';

/** The error `GET /shop/pay` throws (a 500, counted in http_exceptions_total by its class name). */
export class PaymentDeclinedError extends Error {}

/** Routes under /shop: items/:id, POST items, pay (throws), health, private (@DoNotTrack()). */
@Controller('shop')
export class ShopController {
  @Get('items/:id')
  item(@Param('id') id: string): { id: string } {
    return { id };
  }

  @Post('items')
  create(@Body() body: unknown): { created: unknown } {
    return { created: body };
  }

  @Get('pay')
  pay(): never {
    throw new PaymentDeclinedError('card declined');
  }

  @Get('health')
  health(): string {
    return 'ok';
  }

  @Get('private')
  @DoNotTrack()
  hidden(): string {
    return 'hidden';
  }
}

/** Families whose name mentions `http_`, sorted. */
export function httpFamilies(exp: Exposition): string[] {
  return [...exp.families.keys()].filter(n => n.includes('http_')).sort();
}
