/** Agents of the module's own outgoing requests (Pushgateway pushes): left out of the outbound metrics. */
export const ownAgents = new WeakSet();
