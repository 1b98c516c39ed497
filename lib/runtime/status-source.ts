/**
 * The status page's numbers of the other processes of a `node:cluster` app: a contract between two
 * features (status-page asks and merges, cluster carries the messages), so it lives below both.
 * The module provides the app's {@link StatusSource} under {@link STATUS_SOURCE}: the cluster
 * worker with `cluster: true`, {@link NO_STATUS_PEERS} otherwise, as it chooses the exposition
 * source of a scrape.
 */

/**
 * What the other workers answered: each one's status snapshot (opaque JSON here: the status page
 * checks and merges it), and how many workers the primary knows, this one included.
 *
 * @example
 * ```ts
 * const peers: PeerStatuses = { statuses: [snapshotOfWorker2], expected: 2 };
 * ```
 */
export interface PeerStatuses {
  statuses: unknown[];
  expected: number;
}

/**
 * Gives the status snapshots of the other processes whose numbers the page shows.
 *
 * @example
 * ```ts
 * const peers = await source.peers(); // undefined: this process alone (no cluster)
 * ```
 */
export interface StatusSource {
  /**
   * The other workers' snapshots, those that answered within the cluster's `timeoutMs`;
   * `undefined` outside a cluster. Rejects when the primary does not answer.
   */
  peers(): Promise<PeerStatuses | undefined>;
}

/** Injection token of the app's {@link StatusSource}. */
export const STATUS_SOURCE = Symbol('STATUS_SOURCE');

/**
 * The source of a process alone: no peers.
 *
 * @example
 * ```ts
 * { provide: STATUS_SOURCE, useValue: NO_STATUS_PEERS }
 * ```
 */
export const NO_STATUS_PEERS: StatusSource = { peers: () => Promise.resolve(undefined) };
