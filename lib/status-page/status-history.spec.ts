import { MAX_ROWS_PER_FAMILY, quantile, StatusHistory } from './status-history.js';
import { BOUNDS, metrics as snapshot, SOURCES, type Traffic } from './status.spec-fixtures.js';

describe('quantile (histogram_quantile over bucket counts)', () => {
  it('interpolates within the bucket that holds the rank', () => {
    expect(quantile(0.5, [0.1, 0.5], [0, 10, 10])).toBeCloseTo(0.3, 12);
    expect(quantile(0.5, [0.1, 0.5], [10, 10, 10])).toBeCloseTo(0.05, 12);
  });
  it('is the highest bound when the rank falls in +Inf, and NaN without observations', () => {
    expect(quantile(0.99, [0.1, 0.5], [0, 0, 4])).toBe(0.5);
    expect(quantile(0.5, [0.1, 0.5], [0, 0, 0])).toBeNaN();
  });
});

describe('StatusHistory', () => {
  const t0 = 1_700_000_000_000;

  it("a row's rate, error shares and quantiles span the last minute of ticks", () => {
    const history = new StatusHistory(SOURCES, 10, 15);
    history.sample(snapshot([]), t0);
    // A minute of ticks (every 10 s): 60 fast requests on /a, then 60 slow ones.
    for (let i = 1; i <= 6; i++)
      history.sample(snapshot([{ route: '/a', status: 200, perBucket: [10 * i, 0, 0, 0] }]), t0 + i * 10_000);
    // Viewed at the last tick: the window's oldest tick is the first (t0, no requests), 60 s before.
    const now = t0 + 60_000;
    const view = history.view(
      snapshot([
        { route: '/a', status: 200, perBucket: [60, 0, 60, 0] },
        { route: '/a', status: 503, perBucket: [0, 0, 0, 30] },
      ]),
      now,
    );
    const [row] = view.sections[0].rows;
    expect(view.windowSeconds).toBe(60);
    expect(row.requests).toBe(150);
    expect(row.rate).toBeCloseTo(150 / 60, 12);
    expect(row.ratio5xx).toBeCloseTo(30 / 150, 12);
    expect(row.ratio4xx).toBe(0);
    // Window deltas: 60 in ≤0.1, 60 in (0.5, 1], 30 in +Inf; the median (rank 75) is in (0.5, 1].
    expect(row.p50).toBeCloseTo(0.5 + (0.5 * (75 - 60)) / 60, 12);
    expect(row.p99).toBe(1);
  });

  it('after a counter reset, counts what came since instead of a negative rate', () => {
    const history = new StatusHistory(SOURCES, 10, 15);
    history.sample(snapshot([{ route: '/a', status: 200, perBucket: [100, 0, 0, 0] }]), t0);
    const view = history.view(snapshot([{ route: '/a', status: 200, perBucket: [5, 0, 0, 0] }]), t0 + 10_000);
    expect(view.sections[0].rows[0].rate).toBeCloseTo(0.5, 12);
  });

  it('keeps one point of app-wide history per tick, and no more than historyMinutes of them', () => {
    const history = new StatusHistory(SOURCES, 30, 1);
    for (let i = 0; i < 5; i++) {
      history.sample(snapshot([{ route: '/a', status: 200, perBucket: [30 * i, 0, 0, 0] }]), t0 + i * 30_000);
    }
    const view = history.view(snapshot([]), t0 + 150_000);
    expect(view.history.time).toEqual([t0 + 90_000, t0 + 120_000]);
    expect(view.history.rate['2xx']).toEqual([1, 1]);
  });

  it('holds a bounded number of bytes: fixed per row, and at most MAX_ROWS_PER_FAMILY rows', () => {
    const routes = (n: number) =>
      Array.from({ length: n }, (_, i): Traffic => ({ route: `/r${i}`, status: 200, perBucket: [1, 0, 0, 0] }));
    const bytesWith = (n: number) => {
      const history = new StatusHistory(SOURCES, 5, 15);
      history.sample(snapshot(routes(n)), t0);
      return history;
    };
    const empty = bytesWith(0).bytes();
    const perRow = bytesWith(1).bytes() - empty;
    // A minute of 5 s ticks is 13 slots of 5 class counts and 4 bucket counts, as float64.
    expect(perRow).toBe(13 * (5 + BOUNDS.length + 1) * 8);
    expect(bytesWith(100).bytes()).toBe(empty + 100 * perRow);
    const crowded = bytesWith(MAX_ROWS_PER_FAMILY + 50);
    expect(crowded.rowCount()).toBe(MAX_ROWS_PER_FAMILY);
    expect(crowded.bytes()).toBe(empty + MAX_ROWS_PER_FAMILY * perRow);
  });
});

describe('StatusHistory window', () => {
  it('moves on: ticks older than a minute (and one tick) no longer count', () => {
    const t0 = 1_700_000_000_000;
    const history = new StatusHistory(SOURCES, 10, 15);
    // 100 requests before the window, none since.
    for (let i = 0; i <= 8; i++) {
      history.sample(
        snapshot([{ route: '/a', status: 200, perBucket: [i < 2 ? 50 * i : 100, 0, 0, 0] }]),
        t0 + i * 10_000,
      );
    }
    const view = history.view(snapshot([{ route: '/a', status: 200, perBucket: [100, 0, 0, 0] }]), t0 + 80_000);
    expect(view.windowSeconds).toBe(60);
    expect(view.sections[0].rows[0]).toMatchObject({ requests: 100, rate: 0, ratio4xx: null, p50: null });
  });
});
