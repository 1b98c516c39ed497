import { Pushgateway, type Registry, type RegistryContentType } from 'prom-client';
import type { PushgatewayService } from './pushgateway.service.js';

type PushResult = { resp?: unknown; body?: unknown };

/**
 * What the module provides under prom-client's `Pushgateway` class, as
 * `@willsoto/nestjs-prometheus` does, so `constructor(private readonly pushgateway: Pushgateway)`
 * keeps working. An instance of prom-client's class (`gatewayUrl`, `registry`), whose `push`,
 * `pushAdd` and `delete` go through {@link PushgatewayService}: prom-client's own requests escape
 * a `/` in a grouping value as `%2F`, which the Pushgateway rejects. They resolve to `{}` (no
 * `resp`, no `body`) and reject on a network error, a timeout or a status of 400 or more, as prom-client's do.
 *
 * @example
 * ```ts
 * @Injectable()
 * export class ReportJob {
 *   constructor(private readonly pushgateway: Pushgateway<RegistryContentType>) {}
 *   async run() {
 *     await this.pushgateway.pushAdd({ jobName: 'report', groupings: { tenant: 'acme/eu' } });
 *   }
 * }
 * ```
 *
 * @public
 */
export class ModulePushgateway extends Pushgateway<RegistryContentType> {
  readonly #pushes: PushgatewayService;

  constructor(pushes: PushgatewayService, url: string, registry: Registry) {
    super(url, {}, registry);
    this.#pushes = pushes;
  }

  override async pushAdd(params: Pushgateway.Parameters): Promise<PushResult> {
    await this.#pushes.pushAdd(params);
    return {};
  }

  override async push(params: Pushgateway.Parameters): Promise<PushResult> {
    await this.#pushes.push(params);
    return {};
  }

  override async delete(params: Pushgateway.Parameters): Promise<PushResult> {
    await this.#pushes.delete(params);
    return {};
  }
}
