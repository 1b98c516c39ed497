import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { type ClientProxy, ClientProxyFactory, Transport } from '@nestjs/microservices';

/**
 * Load generator of the microservice benchmark (bench/rpc.sh): a real Nest `ClientProxy` on the
 * TCP transport that keeps `--concurrency` `sum` messages in flight (closed loop: each answer sends
 * the next message), first for `--warmup` seconds, then for `--duration` measured seconds.
 *
 *   node dist/bench/bench/rpc-load.js --server-pid=<pid> [--port=3911] [--host=127.0.0.1]
 *     [--concurrency=64] [--duration=10] [--warmup=2] [--server-cpu=1] [--load-cpu=0] [--clk-tck=100]
 *
 * Server CPU: it reads the server's utime + stime from `/proc/<pid>/stat` at both ends of the
 * measured window (no message of the benchmark's own goes to the server, so the instrumented
 * server counts exactly the `sum` messages sent). Noise: the busy time of the server's core that
 * the server did not spend, plus steal, from `/proc/stat`.
 *
 * After the window it stops sending and waits for the messages still in flight, so every message
 * sent has been answered when it exits. Prints a human line on stderr and one `RPC {json}` line on
 * stdout. Exits 1 if a message failed or got a wrong answer.
 */

interface LoadOptions {
  host: string;
  port: number;
  concurrency: number;
  duration: number;
  warmup: number;
  serverPid: number;
  serverCpu: number;
  loadCpu: number;
  clkTck: number;
}

function parseOptions(argv: readonly string[]): LoadOptions {
  const args = new Map<string, string>();
  for (const arg of argv) {
    const m = /^--([a-z-]+)=(.*)$/.exec(arg);
    if (!m) throw new Error(`rpc load: unexpected argument "${arg}"`);
    args.set(m[1], m[2]);
  }
  const num = (name: string, fallback: number | undefined, min: number): number => {
    const raw = args.get(name);
    if (raw === undefined && fallback === undefined) throw new Error(`rpc load: --${name} is required`);
    const value = raw === undefined ? fallback! : Number(raw);
    if (!Number.isFinite(value) || value < min) throw new Error(`rpc load: bad --${name} "${raw}"`);
    return value;
  };
  return {
    host: args.get('host') ?? '127.0.0.1',
    port: num('port', 3911, 1),
    concurrency: Math.floor(num('concurrency', 64, 1)),
    duration: num('duration', 10, 0.1),
    warmup: num('warmup', 2, 0),
    serverPid: num('server-pid', undefined, 1),
    serverCpu: num('server-cpu', 1, 0),
    loadCpu: num('load-cpu', 0, 0),
    clkTck: num('clk-tck', 100, 1),
  };
}

/** utime + stime of a process, in clock ticks (fields 14 and 15 of /proc/<pid>/stat). */
function processTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces and parentheses: the fields after it follow the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

interface CoreTicks {
  busy: number;
  steal: number;
}

/** Busy and steal clock ticks of each core so far (/proc/stat). */
function coreTicks(): Map<number, CoreTicks> {
  const cores = new Map<number, CoreTicks>();
  for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
    const m = /^cpu(\d+) (.*)$/.exec(line);
    if (!m) continue;
    const [user, nice, system, , , irq, softirq, steal] = m[2].trim().split(/\s+/).map(Number);
    cores.set(Number(m[1]), { busy: user + nice + system + irq + softirq, steal });
  }
  return cores;
}

interface Snapshot {
  at: number;
  serverTicks: number;
  cores: Map<number, CoreTicks>;
  self: NodeJS.CpuUsage;
}

function snapshot(pid: number): Snapshot {
  return { at: performance.now(), serverTicks: processTicks(pid), cores: coreTicks(), self: process.cpuUsage() };
}

function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

const PAYLOAD = [1, 2, 3, 4, 5, 6, 7, 8];
const EXPECTED = PAYLOAD.reduce((a, b) => a + b, 0);

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  const client: ClientProxy = ClientProxyFactory.create({
    transport: Transport.TCP,
    options: { host: o.host, port: o.port },
  });
  await client.connect();

  let sending = true;
  let measuring = false;
  let inFlight = 0;
  let sent = 0;
  let answered = 0;
  let failed = 0;
  let wrong = 0;
  let warmupAnswered = 0;
  let measuredAnswered = 0;
  let firstError: unknown;
  // Latencies of the messages answered in the measured window, in ms.
  let latencies = new Float64Array(1 << 20);
  let drained: (() => void) | undefined;

  const finish = (startedAt: number, ok: boolean) => {
    inFlight--;
    answered++;
    if (!ok) failed++;
    if (measuring) {
      if (measuredAnswered === latencies.length) {
        const grown = new Float64Array(latencies.length * 2);
        grown.set(latencies);
        latencies = grown;
      }
      latencies[measuredAnswered++] = performance.now() - startedAt;
    } else if (sending) {
      warmupAnswered++;
    }
    if (sending) {
      // After a failure (e.g. the server went away, which fails synchronously), do not spin.
      if (ok) sendOne();
      else setTimeout(sendOne, 10);
    } else if (inFlight === 0) {
      drained?.();
    }
  };

  function sendOne(): void {
    inFlight++;
    sent++;
    const startedAt = performance.now();
    client.send<number, number[]>('sum', PAYLOAD).subscribe({
      next: value => {
        if (value !== EXPECTED) wrong++;
      },
      error: (error: unknown) => {
        firstError ??= error;
        finish(startedAt, false);
      },
      complete: () => finish(startedAt, true),
    });
  }

  const sleep = (seconds: number) => new Promise<void>(resolve => setTimeout(resolve, seconds * 1000));

  for (let i = 0; i < o.concurrency; i++) sendOne();
  await sleep(o.warmup);
  const before = snapshot(o.serverPid);
  measuring = true;
  await sleep(o.duration);
  measuring = false;
  const after = snapshot(o.serverPid);
  sending = false;
  const drainStarted = performance.now();
  if (inFlight > 0) {
    await Promise.race([new Promise<void>(resolve => (drained = resolve)), sleep(10)]);
  }
  const drainMs = performance.now() - drainStarted;
  client.close();

  const seconds = (after.at - before.at) / 1000;
  const serverTicks = after.serverTicks - before.serverTicks;
  const serverCpuS = serverTicks / o.clkTck;
  const selfCpuS = (after.self.user + after.self.system - before.self.user - before.self.system) / 1e6;
  const wallTicks = seconds * o.clkTck;
  const coreDelta = (core: number) => {
    const a = before.cores.get(core);
    const b = after.cores.get(core);
    return a && b ? { busy: b.busy - a.busy, steal: b.steal - a.steal } : { busy: 0, steal: 0 };
  };
  const sc = coreDelta(o.serverCpu);
  const lc = coreDelta(o.loadCpu);
  const sortedLatencies = latencies.slice(0, measuredAnswered).sort();
  const result = {
    messages: measuredAnswered,
    seconds: round(seconds, 4),
    rate: round(measuredAnswered / seconds, 1),
    server_ticks: serverTicks,
    clk_tck: o.clkTck,
    cpu_us_per_msg: round(measuredAnswered > 0 ? (serverCpuS * 1e6) / measuredAnswered : 0, 3),
    server_cpu_share: round(serverCpuS / seconds, 4),
    load_cpu_share: round(selfCpuS / seconds, 4),
    // Busy time of a core not spent by its own process (others, kernel threads) plus steal, as a share of the window.
    noise_server_core: round((sc.busy - serverTicks + sc.steal) / wallTicks, 4),
    noise_load_core: round((lc.busy - selfCpuS * o.clkTck + lc.steal) / wallTicks, 4),
    p50_ms: round(quantile(sortedLatencies, 0.5), 3),
    p99_ms: round(quantile(sortedLatencies, 0.99), 3),
    warmup_messages: warmupAnswered,
    sent,
    answered,
    in_flight_after_drain: inFlight,
    drain_ms: round(drainMs, 1),
    failed,
    wrong,
    concurrency: o.concurrency,
  };
  process.stderr.write(
    `  ${result.rate.toFixed(0).padStart(7)} msg/s  cpu ${result.cpu_us_per_msg.toFixed(2).padStart(6)} us/msg  ` +
      `p99 ${result.p99_ms.toFixed(2)} ms  server cpu ${(100 * result.server_cpu_share).toFixed(0)}%  ` +
      `load cpu ${(100 * result.load_cpu_share).toFixed(0)}%  noise ${(100 * Math.max(0, result.noise_server_core)).toFixed(0)}%\n`,
  );
  process.stdout.write(`RPC ${JSON.stringify(result)}\n`);
  if (failed > 0 || wrong > 0 || inFlight > 0) {
    console.error(
      `rpc load: ${failed} failed, ${wrong} wrong answers, ${inFlight} unanswered; first error:`,
      firstError,
    );
    process.exit(1);
  }
  process.exit(0);
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
