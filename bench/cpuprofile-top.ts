import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * Summarises V8 .cpuprofile files per request: where the server's CPU went, by package and by
 * function, and what the library's own code costs (self and inclusive time).
 *
 *   node dist/bench/bench/cpuprofile-top.js [--top=N] label=file.cpuprofile:requests ...
 *
 * With two profiles (bare first, instrumented second), also prints the per-package difference.
 */

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

interface Input {
  label: string;
  file: string;
  requests: number;
}

interface FnStats {
  key: string;
  name: string;
  location: string;
  category: string;
  self: number;
  total: number;
}

interface Analysis {
  input: Input;
  /** µs of samples, idle and program excluded */
  busy: number;
  idle: number;
  wall: number;
  byCategory: Map<string, number>;
  functions: FnStats[];
}

const LIBRARY = 'LIBRARY (nestjs-prom-metrics)';

function toPath(url: string): string {
  if (!url.startsWith('file://')) return url;
  try {
    return fileURLToPath(url);
  } catch {
    return url;
  }
}

function shortUrl(url: string): string {
  const path = toPath(url);
  const nm = path.lastIndexOf('/node_modules/');
  if (nm !== -1) return path.slice(nm + '/node_modules/'.length);
  const cwd = `${process.cwd()}/`;
  return path.startsWith(cwd) ? path.slice(cwd.length) : path;
}

function category(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (url === '') {
    if (functionName === '(idle)') return '(idle)';
    if (functionName === '(garbage collector)') return '(gc)';
    if (functionName === '(program)') return '(program: native/VM)';
    return '(native builtins)';
  }
  if (url.startsWith('node:')) return 'node core';
  const path = toPath(url);
  const nm = path.lastIndexOf('/node_modules/');
  if (nm !== -1) {
    const parts = path.slice(nm + '/node_modules/'.length).split('/');
    return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
  }
  if (path.includes('/dist/bench/lib/') || path.startsWith(`${process.cwd()}/lib/`)) return LIBRARY;
  if (path.includes('/dist/bench/bench/')) return 'bench app';
  return shortUrl(url);
}

function analyse(input: Input): Analysis {
  const profile = JSON.parse(readFileSync(input.file, 'utf8')) as CpuProfile;
  const nodes = new Map<number, ProfileNode>();
  for (const n of profile.nodes) nodes.set(n.id, n);
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  // Sample i covers [t_i, t_{i+1}): its duration is the next delta.
  const selfByNode = new Map<number, number>();
  const { samples, timeDeltas } = profile;
  for (let i = 0; i < samples.length; i++) {
    const dt = i + 1 < timeDeltas.length ? timeDeltas[i + 1] : 0;
    if (dt <= 0) continue;
    selfByNode.set(samples[i], (selfByNode.get(samples[i]) ?? 0) + dt);
  }

  const fnKey = (f: CallFrame) => `${f.functionName}\u0000${f.url}\u0000${f.lineNumber}`;
  const fns = new Map<string, FnStats>();
  const byCategory = new Map<string, number>();
  let idle = 0;
  let wall = 0;
  for (const [id, self] of selfByNode) {
    const node = nodes.get(id);
    if (!node) continue;
    wall += self;
    const f = node.callFrame;
    const cat = category(f);
    if (cat === '(idle)') {
      idle += self;
      continue;
    }
    byCategory.set(cat, (byCategory.get(cat) ?? 0) + self);
    // inclusive: add to every distinct function on the stack (once per function, despite recursion)
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const n = nodes.get(cur);
      if (!n || n.callFrame.functionName === '(root)') break;
      const key = fnKey(n.callFrame);
      let s = fns.get(key);
      if (!s) {
        s = {
          key,
          name: n.callFrame.functionName || '(anonymous)',
          location: n.callFrame.url ? `${shortUrl(n.callFrame.url)}:${n.callFrame.lineNumber + 1}` : '',
          category: category(n.callFrame),
          self: 0,
          total: 0,
        };
        fns.set(key, s);
      }
      if (cur === id) s.self += self;
      if (!seen.has(key)) {
        seen.add(key);
        s.total += self;
      }
    }
  }
  return { input, busy: wall - idle, idle, wall, byCategory, functions: [...fns.values()] };
}

const perReq = (us: number, requests: number) => (requests > 0 ? us / requests : NaN);
const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : 'n/a');
const pctOf = (x: number, of: number) => `${((100 * x) / of).toFixed(1)}%`;

function main(): void {
  let top = 25;
  const inputs: Input[] = [];
  for (const arg of process.argv.slice(2)) {
    const t = /^--top=(\d+)$/.exec(arg);
    if (t) {
      top = Number(t[1]);
      continue;
    }
    const m = /^([^=]+)=(.+):(\d+)$/.exec(arg);
    if (!m) throw new Error(`usage: cpuprofile-top.js [--top=N] label=file.cpuprofile:requests ... (got "${arg}")`);
    inputs.push({ label: m[1], file: m[2], requests: Number(m[3]) });
  }
  if (inputs.length === 0) throw new Error('usage: cpuprofile-top.js [--top=N] label=file.cpuprofile:requests ...');
  const analyses = inputs.map(analyse);
  const out: string[] = [];

  for (const a of analyses) {
    const n = a.input.requests;
    out.push('');
    out.push(
      `### ${a.input.label}: ${n} requests; sampled ${(a.wall / 1e6).toFixed(2)} s, of which JS thread busy ` +
        `${(a.busy / 1e6).toFixed(2)} s = ${f2(perReq(a.busy, n))} us/request on the main thread (${a.input.file})`,
    );
    out.push('  self time by package / category (us per request, share of busy time):');
    for (const [cat, us] of [...a.byCategory].sort((x, y) => y[1] - x[1]).slice(0, 14)) {
      out.push(`    ${f2(perReq(us, n)).padStart(7)}  ${pctOf(us, a.busy).padStart(6)}  ${cat}`);
    }
    out.push(`  top ${top} functions by self time:`);
    for (const s of [...a.functions].sort((x, y) => y.self - x.self).slice(0, top)) {
      out.push(
        `    ${f2(perReq(s.self, n)).padStart(7)}  ${pctOf(s.self, a.busy).padStart(6)}  ${s.name}  ${s.location}`,
      );
    }
    const lib = a.functions.filter(s => s.category === LIBRARY);
    if (lib.length > 0) {
      const libSelf = lib.reduce((sum, s) => sum + s.self, 0);
      out.push(
        `  library functions (self ${f2(perReq(libSelf, n))} us/request = ${pctOf(libSelf, a.busy)} of busy time), ` +
          'by self time; "incl" is inclusive time (callees included):',
      );
      for (const s of [...lib].sort((x, y) => y.self - x.self || y.total - x.total).slice(0, top)) {
        out.push(
          `    self ${f2(perReq(s.self, n)).padStart(6)}  incl ${f2(perReq(s.total, n)).padStart(6)} us/req  ` +
            `${s.name}  ${s.location}`,
        );
      }
    }
  }

  if (analyses.length === 2) {
    const [b, i] = analyses;
    out.push('');
    out.push(`### difference ${i.input.label} - ${b.input.label}, self time in us per request, by package / category`);
    out.push(
      `    total busy: ${f2(perReq(b.busy, b.input.requests))} -> ${f2(perReq(i.busy, i.input.requests))} ` +
        `(+${f2(perReq(i.busy, i.input.requests) - perReq(b.busy, b.input.requests))})`,
    );
    const cats = new Set([...b.byCategory.keys(), ...i.byCategory.keys()]);
    const rows = [...cats].map(c => {
      const x = perReq(b.byCategory.get(c) ?? 0, b.input.requests);
      const y = perReq(i.byCategory.get(c) ?? 0, i.input.requests);
      return { c, x, y, d: y - x };
    });
    for (const r of rows.sort((p, q) => Math.abs(q.d) - Math.abs(p.d)).slice(0, 16)) {
      out.push(
        `    ${(r.d >= 0 ? '+' : '') + f2(r.d)}`.padEnd(12) +
          `  ${f2(r.x).padStart(6)} -> ${f2(r.y).padStart(6)}  ${r.c}`,
      );
    }
    out.push(`  functions whose self time grew most (us per request, ${b.input.label} -> ${i.input.label}):`);
    const bf = new Map(b.functions.map(s => [s.key, s]));
    const grown = i.functions
      .map(s => ({ s, d: perReq(s.self, i.input.requests) - perReq(bf.get(s.key)?.self ?? 0, b.input.requests) }))
      .sort((p, q) => q.d - p.d)
      .slice(0, top);
    for (const { s, d } of grown) {
      out.push(
        `    +${f2(d).padEnd(6)} ${f2(perReq(bf.get(s.key)?.self ?? 0, b.input.requests)).padStart(6)} -> ` +
          `${f2(perReq(s.self, i.input.requests)).padStart(6)}  ${s.name}  ${s.location}`,
      );
    }
  }
  console.log(out.join('\n'));
}

main();
