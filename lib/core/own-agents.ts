// The module's own outgoing requests (Pushgateway pushes) go through HTTP agents it marks, so that
// the outbound HTTP metrics, which see every request of the process, leave them out. A mark on the
// agent rather than a set at module scope: nothing to share between apps, and `Symbol.for` is the
// same symbol in the ESM and the CommonJS build should a process load both.
const OWN_AGENT = Symbol.for('nestjs-prom-metrics.own-agent');

/** Marks an HTTP agent as the module's own: requests through it are not measured. */
export function markOwnAgent(agent: object): void {
  Object.defineProperty(agent, OWN_AGENT, { value: true });
}

/** Whether an HTTP agent is one of the module's own. */
export function isOwnAgent(agent: unknown): boolean {
  return typeof agent === 'object' && agent !== null && (agent as Record<symbol, unknown>)[OWN_AGENT] === true;
}
