import { Injectable, Logger } from '@nestjs/common';
import { describeError } from '../core/describe-error.js';

/**
 * The moments of an app's bootstrap and shutdown at which the module's features do their work,
 * in the order Nest reaches them:
 * - `beforeRoutes`: in `app.init()`, every instance exists and Nest has yet to register the
 *   routes, which capture the handler methods (`NestModule.configure()` of `PrometheusModule`);
 * - `afterRoutes`: the routes are registered (`onModuleInit`);
 * - `bootstrap`: the app is initialised, its not-found handler set (`onApplicationBootstrap`);
 * - `destroy`: `app.close()` begins (`onModuleDestroy`);
 * - `shutdown`: `app.close()`, after `destroy` (`onApplicationShutdown`).
 *
 * An app that has no HTTP server (`NestFactory.createMicroservice()`) never calls
 * `NestModule.configure()`: running a moment runs the earlier ones first if they have not run.
 */
export type BootstrapMoment = 'beforeRoutes' | 'afterRoutes' | 'bootstrap' | 'destroy' | 'shutdown';

const MOMENTS: readonly BootstrapMoment[] = ['beforeRoutes', 'afterRoutes', 'bootstrap', 'destroy', 'shutdown'];

/** A class, as Nest holds a provider's or controller's type. */
export interface HandlerClass {
  readonly name: string;
  readonly prototype: unknown;
}

interface BootstrapStep {
  readonly name: string;
  readonly run: () => void | Promise<void>;
}

/**
 * One app's `PrometheusModule` at run time: the bootstrap steps its features registered, run at the
 * moments Nest offers, and the facts one feature learns and another needs, handed down instead of
 * the features importing each other. A provider, so every app has its own and two apps in one
 * process share none of it.
 *
 * @example
 * ```ts
 * // In a feature's constructor:
 * runtime.at('beforeRoutes', 'http: hook the adapter', () => this.prepare());
 * runtime.addExternalRoute('/graphql');
 * ```
 * @public
 */
@Injectable()
export class PrometheusRuntime {
  private readonly logger = new Logger('PrometheusModule');
  private readonly steps = new Map<BootstrapMoment, BootstrapStep[]>();
  private readonly done = new Set<BootstrapMoment>();
  private readonly externalRoutes = new Set<string>();
  private readonly handlerClasses: HandlerClass[] = [];
  private readonly handlerClassListeners: ((type: HandlerClass) => void)[] = [];
  private statusSnapshotFn?: () => Promise<unknown>;

  /**
   * Runs `run` at `moment`, after the steps registered before it. Steps registered for a moment
   * that has passed run at once (a provider created late).
   */
  at(moment: BootstrapMoment, name: string, run: () => void | Promise<void>): void {
    if (this.done.has(moment)) {
      void this.runStep(moment, { name, run });
      return;
    }
    let list = this.steps.get(moment);
    if (!list) this.steps.set(moment, (list = []));
    list.push({ name, run });
  }

  /**
   * Runs the steps of `moment` in order, once (and those of earlier moments that have not run). A
   * failing bootstrap step fails the bootstrap; a failing shutdown step is logged, and the others
   * still run.
   */
  async run(moment: BootstrapMoment): Promise<void> {
    for (const m of MOMENTS.slice(0, MOMENTS.indexOf(moment) + 1)) {
      if (this.done.has(m)) continue;
      this.done.add(m);
      for (const step of this.steps.get(m) ?? []) await this.runStep(m, step);
    }
  }

  private async runStep(moment: BootstrapMoment, step: BootstrapStep): Promise<void> {
    try {
      await step.run();
    } catch (error) {
      if (moment !== 'destroy' && moment !== 'shutdown') throw error;
      this.logger.error(`${moment} step "${step.name}" failed: ${describeError(error)}`);
    }
  }

  /** A path the app serves outside Nest's router (GraphQL's endpoint): HTTP metrics count it as a route. */
  addExternalRoute(path: string): void {
    this.externalRoutes.add(path);
  }

  /** The paths `addExternalRoute` gave, as of now. */
  externalRoutePaths(): string[] {
    return [...this.externalRoutes];
  }

  /**
   * A class whose handlers Nest reads off its prototype (microservice controllers, gateways,
   * resolvers), found before Nest binds them: features that wrap methods (method decorators)
   * must do so on the prototype, now. Listeners registered later are told about it too.
   */
  addHandlerClass(type: HandlerClass): void {
    this.handlerClasses.push(type);
    for (const listener of this.handlerClassListeners) listener(type);
  }

  /** Calls `listener` for every class `addHandlerClass` was given, and every class it will be given. */
  onHandlerClass(listener: (type: HandlerClass) => void): void {
    this.handlerClassListeners.push(listener);
    for (const type of this.handlerClasses) listener(type);
  }

  /**
   * What this process answers when another cluster worker's status page asks for its numbers
   * (the status page gives it once it samples; the cluster feature asks it).
   */
  provideStatusSnapshot(snapshot: () => Promise<unknown>): void {
    this.statusSnapshotFn = snapshot;
  }

  /** This process's status snapshot, or `undefined` when its status page is off. */
  statusSnapshot(): Promise<unknown> {
    return this.statusSnapshotFn ? this.statusSnapshotFn() : Promise.resolve(undefined);
  }
}
