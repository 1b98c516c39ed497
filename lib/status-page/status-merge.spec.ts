import { StatusHistory } from './status-history.js';
import { BOUNDS, metrics, SOURCES, type Traffic } from './status.spec-fixtures.js';
import { isStatusSnapshot, mergeStatus, quantile, type StatusRow, type StatusSnapshot } from './status-merge.js';

/** A process that ticked on the 10 s boundaries from `t0`, with `ticks` cumulative readings, seen at the last. */
function processSnapshot(t0: number, ticks: Traffic[][], now: Traffic[], lag = 0.01): StatusSnapshot {
  const history = new StatusHistory(SOURCES, 10, 15);
  ticks.forEach((traffic, i) => history.sample(metrics(traffic, lag), t0 + i * 10_000));
  // Through JSON, as it travels between processes.
  return JSON.parse(
    JSON.stringify(history.snapshot(metrics(now, lag), t0 + (ticks.length - 1) * 10_000)),
  ) as StatusSnapshot;
}

describe('mergeStatus (the cluster view of several processes)', () => {
  const t0 = 1_700_000_000_000;

  it('sums rows, and takes shares and quantiles from the summed counts, not the average of each process', () => {
    // Worker a: 60 fast requests on /a over the minute; worker b: 60 slow ones and 20 failures.
    const a = processSnapshot(
      t0,
      [[], [{ route: '/a', status: 200, perBucket: [60, 0, 0, 0] }]],
      [{ route: '/a', status: 200, perBucket: [60, 0, 0, 0], exception: ['A', 1] }],
    );
    const bNow: Traffic[] = [
      { route: '/a', status: 200, perBucket: [0, 0, 60, 0], exception: ['B', 5], inFlight: 2 },
      { route: '/a', status: 503, perBucket: [0, 0, 0, 20] },
      { route: '/b', status: 404, perBucket: [4, 0, 0, 0] },
    ];
    const b = processSnapshot(t0, [[], bNow], bNow);
    const view = mergeStatus([a, b], 3);

    expect(view.workers).toEqual({ answered: 2, expected: 3 });
    const http = view.sections[0];
    const rowA = http.rows.find(r => r.labels.route === '/a') as StatusRow;
    expect(rowA.requests).toBe(140);
    // Each process's window is 10 s here: its rate is its count over its window, summed.
    expect(rowA.rate).toBeCloseTo(60 / 10 + 80 / 10, 12);
    expect(rowA.ratio5xx).toBeCloseTo(20 / 140, 12);
    expect(rowA.ratio4xx).toBe(0);
    // Summed buckets: 60 ≤0.1, 60 in (0.5, 1], 20 in +Inf; the median (rank 70) is in (0.5, 1].
    const summed = [60, 60, 120, 140];
    expect(rowA.p50).toBeCloseTo(quantile(0.5, BOUNDS, summed), 12);
    expect(rowA.p50).toBeCloseTo(0.5 + (0.5 * (70 - 60)) / 60, 12);
    // Not the mean of each worker's median (0.05 and 0.5 + 0.5 * 40 / 60).
    expect(rowA.p50).not.toBeCloseTo((0.05 + (0.5 + (0.5 * 40) / 60)) / 2, 2);
    expect(rowA.p99).toBe(1);
    expect(rowA.inFlight).toBe(2);
    expect(rowA.exceptions).toEqual([
      { name: 'B', count: 5 },
      { name: 'A', count: 1 },
    ]);
    const rowB = http.rows.find(r => r.labels.route === '/b') as StatusRow;
    expect(rowB).toMatchObject({ requests: 4, ratio4xx: 1 });
    expect(http.total.requests).toBe(144);
    expect(http.total.rate).toBeCloseTo(14.4, 12);
    expect(http.rows.map(r => r.labels.route)).toEqual(['/a', '/b']);
  });

  it('sums the history over aligned ticks: rates add, quantiles come from the summed bucket deltas', () => {
    const fast: Traffic = { route: '/a', status: 200, perBucket: [10, 0, 0, 0] };
    const slow: Traffic = { route: '/a', status: 500, perBucket: [0, 0, 30, 0] };
    // Both tick at t0, t0+10 s (a few ms apart, as timers on the same boundaries do).
    const a = processSnapshot(t0, [[], [fast]], [fast]);
    const b = processSnapshot(t0 + 3, [[], [slow]], [slow], 0.2);
    const view = mergeStatus([a, b], 2);
    expect(view.history.time).toEqual([t0, t0 + 10_000]);
    expect(view.history.rate['2xx']).toEqual([null, 1]);
    expect(view.history.rate['5xx'][1]).toBeCloseTo(3, 6);
    // 10 in ≤0.1 and 30 in (0.5, 1]: the median (rank 20) is in (0.5, 1].
    expect(view.history.p50[1]).toBeCloseTo(quantile(0.5, BOUNDS, [10, 10, 40, 40]), 12);
    expect(view.history.inFlight).toEqual([0, 0]);
    expect(view.history.eventLoopLagSeconds).toEqual([0.2, 0.2]);
    expect(view.history.heapUsedBytes[1]).toBe(Number(a.history.heapUsedBytes[1]) + Number(b.history.heapUsedBytes[1]));
    expect(view.process.eventLoopLagSeconds).toBe(0.2);
    expect(view.process.heapUsedBytes).toBe(a.process.heapUsedBytes + b.process.heapUsedBytes);
  });

  it('a worker that started later: its ticks add where they fall, the others stand alone', () => {
    const traffic: Traffic = { route: '/a', status: 200, perBucket: [20, 0, 0, 0] };
    const a = processSnapshot(t0, [[], [], [traffic]], [traffic]);
    const b = processSnapshot(t0 + 10_000, [[], [traffic]], [traffic]);
    const view = mergeStatus([a, b], 2);
    expect(view.history.time).toEqual([t0, t0 + 10_000, t0 + 20_000]);
    expect(view.history.rate['2xx']).toEqual([null, 0, 4]);
    expect(view.sections[0].rows[0].requests).toBe(40);
  });

  it('cardinality: the most series any worker holds, overflowed in any, diverted summed', () => {
    const a = processSnapshot(t0, [[]], []);
    const b = processSnapshot(t0, [[]], []);
    a.cardinality.metrics = [{ name: 'm', type: 'counter', series: 7, overflowed: false, diverted: 2 }];
    b.cardinality.metrics = [
      { name: 'm', type: 'counter', series: 3, overflowed: true, diverted: 5 },
      { name: 'n', type: 'gauge', series: 1, overflowed: false, diverted: 0 },
    ];
    expect(mergeStatus([a, b], 2).cardinality.metrics).toEqual([
      { name: 'm', type: 'counter', series: 7, overflowed: true, diverted: 7 },
      { name: 'n', type: 'gauge', series: 1, overflowed: false, diverted: 0 },
    ]);
  });

  it('one snapshot is the single-process view, and isStatusSnapshot refuses what is not one', () => {
    const a = processSnapshot(t0, [[]], []);
    expect(mergeStatus([a], 1).workers).toEqual({ answered: 1, expected: 1 });
    expect(isStatusSnapshot(a)).toBe(true);
    expect(isStatusSnapshot({ ...a, version: 2 })).toBe(false);
    expect(isStatusSnapshot(null)).toBe(false);
    expect(isStatusSnapshot({ version: 1, time: 1 })).toBe(false);
    expect(() => mergeStatus([], 1)).toThrow('mergeStatus needs at least one snapshot');
  });
});
