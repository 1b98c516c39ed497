import { PrometheusRuntime } from './prometheus-runtime.js';

describe('PrometheusRuntime', () => {
  it('runs each moment once, in order, running earlier moments first when Nest skipped them', async () => {
    const runtime = new PrometheusRuntime();
    const ran: string[] = [];
    runtime.at('afterRoutes', 'b', () => void ran.push('afterRoutes:b'));
    runtime.at('beforeRoutes', 'a', () => void ran.push('beforeRoutes:a'));
    runtime.at('afterRoutes', 'c', async () => {
      await Promise.resolve();
      ran.push('afterRoutes:c');
    });
    // A microservice-only app never calls configure(): onModuleInit must still run beforeRoutes.
    await runtime.run('afterRoutes');
    await runtime.run('afterRoutes');
    await runtime.run('beforeRoutes');
    expect(ran).toEqual(['beforeRoutes:a', 'afterRoutes:b', 'afterRoutes:c']);
  });

  it('a step registered after its moment passed runs at once', async () => {
    const runtime = new PrometheusRuntime();
    await runtime.run('bootstrap');
    let ran = false;
    runtime.at('afterRoutes', 'late', () => void (ran = true));
    await Promise.resolve();
    expect(ran).toBe(true);
  });

  it('a failing bootstrap step fails the bootstrap; a failing shutdown step lets the others run', async () => {
    const runtime = new PrometheusRuntime();
    runtime.at('bootstrap', 'boom', () => {
      throw new Error('port in use');
    });
    await expect(runtime.run('bootstrap')).rejects.toThrow('port in use');

    const closing = new PrometheusRuntime();
    const closed: string[] = [];
    closing.at('shutdown', 'first', () => {
      throw new Error('gateway down');
    });
    closing.at('shutdown', 'second', () => void closed.push('second'));
    await closing.run('shutdown');
    expect(closed).toEqual(['second']);
  });

  it('hands facts from one feature to another, whichever registers first', () => {
    const runtime = new PrometheusRuntime();
    const Early = { name: 'Early', prototype: {} };
    const Late = { name: 'Late', prototype: {} };
    runtime.addHandlerClass(Early);
    const seen: string[] = [];
    runtime.onHandlerClass(type => seen.push(type.name));
    runtime.addHandlerClass(Late);
    runtime.addExternalRoute('/graphql');
    expect(seen).toEqual(['Early', 'Late']);
    expect(runtime.externalRoutePaths()).toEqual(['/graphql']);
  });
});
