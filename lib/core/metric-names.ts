const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export function assertMetricName(name: string, where: string): void {
  if (typeof name !== 'string' || !METRIC_NAME.test(name)) {
    throw new Error(`${where}: invalid metric name "${String(name)}" (must match ${METRIC_NAME.source})`);
  }
}

export function assertLabelName(label: string, where: string): void {
  if (typeof label !== 'string' || !LABEL_NAME.test(label) || label.startsWith('__')) {
    throw new Error(
      `${where}: invalid label name "${String(label)}" (must match ${LABEL_NAME.source} and not start with "__")`,
    );
  }
}

export function assertBuckets(buckets: readonly number[], where: string): void {
  if (!Array.isArray(buckets) || buckets.length === 0) {
    throw new Error(`${where}: buckets must be a non-empty array of numbers`);
  }
  for (let i = 0; i < buckets.length; i++) {
    const b: unknown = buckets[i];
    if (typeof b !== 'number' || !Number.isFinite(b)) {
      throw new Error(`${where}: bucket ${String(b)} is not a finite number`);
    }
    if (i > 0 && b <= buckets[i - 1]) {
      throw new Error(`${where}: buckets must be strictly increasing (${buckets[i - 1]} then ${b})`);
    }
  }
}
