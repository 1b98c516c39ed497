#!/usr/bin/env python3
"""Self instructions per function of a callgrind dump, with V8's JIT code named from the perf map
that `node --perf-basic-prof` writes (/tmp/perf-<pid>.map): callgrind shows JIT code as bare
addresses. Used with bench/instructions.sh (NODE_FLAGS=--perf-basic-prof).

  python3 bench/callgrind-jit.py <callgrind dump> <perf map|/dev/null> <requests> [top=40] [filter]

Prints instructions per request in all, and without V8's garbage collector, compilers and write
barriers (the "steady" count: those depend on when V8 decides to collect or optimize, which under
valgrind's slowdown varies from one window to the next by more than the library costs), then by
function (self cost), JIT code by its V8 name ("JS:*name file:line").
"""
import bisect, re, sys
from collections import defaultdict

dump, perfmap, requests = sys.argv[1], sys.argv[2], int(sys.argv[3])
top = int(sys.argv[4]) if len(sys.argv) > 4 else 40
flt = sys.argv[5] if len(sys.argv) > 5 else None

starts, ends, names = [], [], []
for line in open(perfmap, errors='replace'):
    parts = line.rstrip('\n').split(' ', 2)
    if len(parts) < 3:
        continue
    s, z = int(parts[0], 16), int(parts[1], 16)
    starts.append(s); ends.append(s + z); names.append(parts[2])
order = sorted(range(len(starts)), key=lambda i: starts[i])
starts = [starts[i] for i in order]; ends = [ends[i] for i in order]; names = [names[i] for i in order]

def jit_name(addr):
    i = bisect.bisect_right(starts, addr) - 1
    if i >= 0 and addr < ends[i]:
        return names[i]
    return None

fn_names = {}
self_cost = defaultdict(int)
cur = None
skip = False
name_re = re.compile(r'^(c?fn)=\((\d+)\)(?: (.*))?$')
for line in open(dump, errors='replace'):
    if line.startswith('fn=') or line.startswith('cfn='):
        m = name_re.match(line.rstrip('\n'))
        if m:
            kind, ident, name = m.groups()
            if name is not None:
                fn_names[ident] = name
            if kind == 'fn':
                cur = fn_names.get(ident, ident)
        continue
    if line.startswith('calls='):
        skip = True
        continue
    c = line[:1]
    if c.isdigit() or c in '+-*':
        parts = line.split()
        if len(parts) >= 2:
            if skip:
                skip = False
            elif cur is not None:
                self_cost[cur] += int(parts[1])
        continue

merged = defaultdict(int)
for name, cost in self_cost.items():
    base = re.sub(r"'\d+$", '', name)
    m = re.match(r'^0x([0-9a-fA-F]+)$', base)
    if m:
        base = jit_name(int(m.group(1), 16)) or ('JIT? ' + base)
    merged[base] += cost

UNSTEADY = re.compile(
    r'v8::internal::(Heap|Mark|Scaveng|Sweep|Incremental|Concurrent|Evacuat|Minor|Memory|Remembered|Slot|Page|'
    r'Marking|BodyDescriptor|RootScavenge|Pretenuring|LargeObject|PagedSpace|NewSpace|SemiSpace|ArrayBufferSweeper|'
    r'Young|MainMarking|WeakObjects|LocalHeap|HeapObject::SizeFromMap|FreeList|ObjectStats|compiler::|Compiler|Parser|'
    r'Scanner|Zone|interpreter::|baseline::|WriteBarrier|RelocIterator|Assembler|Bytecode|Deoptimiz|TurboAssembler|'
    r'MacroAssembler|AstNode|Ast|Scope|SharedFunctionInfo::Should|Debug|maglev|FeedbackVector|CodeGen|Code::|Optimiz|'
    r'TieringManager|RuntimeProfiler)|heap::base|cppgc|Scavenger|IterateAndScavenge|ScavengeVisitor|MarkingVisitor|'
    r'MarkCompact|Builtins_RecordWrite|Builtins_CompileLazy|Runtime_Compile|std::_Rb_tree|GraphReducer|__memset|'
    r'__memcpy|_int_malloc|_int_free|malloc|free$|operator new|operator delete|IterateObjectCache|'
    r'LiveObjectRange|StringTableCleaner|RememberedSet|PointersUpdating|NeedsResetDueToFlushedBytecode|'
    r'Map::UsedInstanceSize|JSObject::GetHeaderSize|CppHeap|__popcountdi2')

total = sum(merged.values())
steady = sum(c for name, c in merged.items() if not UNSTEADY.search(name))
print(f'total {total / requests:,.0f} instructions/request, steady {steady / requests:,.0f}')
rows = sorted(merged.items(), key=lambda kv: -kv[1])
if flt:
    rows = [r for r in rows if re.search(flt, r[0])]
    print(f'matching /{flt}/: {sum(c for _, c in rows) / requests:,.0f} instructions/request')
for name, cost in rows[:top]:
    print(f'{cost / requests:10,.0f}  {name[:150]}')
