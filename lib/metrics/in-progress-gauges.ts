/**
 * Gauges that count work in flight (`@Gauge` decorators): zeroing one under running calls would
 * leave it negative when they end, so resets leave them alone.
 */
export const inProgressGauges = new WeakSet();
