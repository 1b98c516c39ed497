#!/usr/bin/env node
/**
 * The version matrix: the whole jest suite of `npm test` (HTTP metrics, decorators, exceptions,
 * cardinality, endpoint, transports, outbound, testing helpers) on every NestJS line the peer range
 * names, and the newest line on every Node.js line `engines` allows.
 *
 *   npm run test:matrix                          every line, one after the other
 *   npm run test:matrix -- nest10 nest11.0       only the named lines
 *   npm run test:matrix -- --list                the lines and what each installs
 *   MATRIX_DIR=/tmp/m npm run test:matrix        scratch folder (default: .tmp/matrix, gitignored)
 *   MATRIX_JEST_ARGS='test/faults' npm run test:matrix -- nest10   only some test files (while developing)
 *   MATRIX_JSON_DIR=. npm run test:matrix        where each line's jest JSON result lands
 *                                                (test-results-matrix-<line>.json; default: MATRIX_DIR)
 *
 * Each older NestJS line is installed by this script from the npm registry into a folder of its own
 * under the scratch folder (`npm install`, no lock: the newest release of the line, as a user
 * upgrading today would get), with the matching major of every optional peer the suites import
 * (@nestjs/microservices, websockets, platform-ws, testing, swagger, axios, graphql, apollo,
 * mercurius). The repo's lib/, test/ and sample/ are copied there and jest runs with that folder's
 * node_modules. An install is reused while the line's package.json is unchanged. The newest line is
 * the repo's own install (package.json and its lock), run with a Node.js binary of each major line
 * fetched from the npm registry (test/matrix/node-line.sh).
 *
 * Last lines: a timing table, then `matrix: N passed, N failed` (tests, summed over the lines).
 * Exit code 1 when any line failed to install or had a failing test.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SCRATCH = resolve(process.env.MATRIX_DIR ?? join(ROOT, '.tmp/matrix'));
const JSON_DIR = resolve(process.env.MATRIX_JSON_DIR ?? SCRATCH);

/** The @nestjs packages released in lockstep with core, one version for all. */
const NEST_CORE = [
  '@nestjs/common',
  '@nestjs/core',
  '@nestjs/platform-express',
  '@nestjs/platform-fastify',
  '@nestjs/microservices',
  '@nestjs/websockets',
  '@nestjs/platform-ws',
  '@nestjs/testing',
];

/** Dev dependencies no test needs (lint and format): left out of the line installs. */
const NOT_FOR_TESTS = [
  '@eslint/js',
  'eslint',
  'eslint-config-prettier',
  'prettier',
  'typescript-eslint',
  // The README checks (npm run test:docs) and the API report run on the newest line only.
  '@microsoft/api-extractor',
  '@nestjs/config',
];

/**
 * The lines. `nest`: the range of the lockstep packages; `peers`: the other packages whose major
 * follows Nest's (the version the package's own peer range accepts for that Nest line); `drop`:
 * dev dependencies that do not exist for the line; `node`: the Node.js major it runs on.
 * No `nest`: the repo's own install.
 */
const LINES = [
  {
    name: 'nest10',
    title: 'NestJS 10.4 (Express 4, Fastify 4)',
    nest: '~10.4.0',
    peers: {
      '@nestjs/swagger': '^7.4.0',
      '@nestjs/axios': '^3.1.0',
      '@nestjs/graphql': '^12.2.0',
      '@nestjs/apollo': '^12.2.0',
      '@nestjs/mercurius': '^12.2.0',
      '@apollo/server': '^4.11.0',
      mercurius: '^14.1.0',
    },
    // Apollo 4 brings its own Express 4 middleware; the Express 5 integration is for NestJS 11+.
    drop: ['@as-integrations/express5'],
    node: 20,
  },
  {
    name: 'nest11.0',
    title: 'NestJS 11.0.x (Express 5, Fastify 5)',
    nest: '~11.0.0',
    peers: {
      '@nestjs/swagger': '~11.0.0',
      '@nestjs/axios': '^4.0.0',
      '@nestjs/graphql': '~13.0.0',
      '@nestjs/apollo': '~13.0.0',
      '@nestjs/mercurius': '~13.0.0',
      '@apollo/server': '^4.11.3',
    },
    drop: [],
    node: 20,
  },
  {
    name: 'nest11',
    title: 'NestJS 11.x (Express 5, Fastify 5)',
    nest: '^11.1.0',
    peers: {
      '@nestjs/swagger': '^11.0.0',
      '@nestjs/axios': '^4.0.0',
      '@nestjs/graphql': '^13.0.0',
      '@nestjs/apollo': '^13.0.0',
      '@nestjs/mercurius': '^13.0.0',
    },
    drop: [],
    node: 20,
  },
  { name: 'nest12', title: 'NestJS 12.x (repo lock)', node: 20 },
  { name: 'nest12-node22', title: 'NestJS 12.x (repo lock)', node: 22 },
  { name: 'nest12-node24', title: 'NestJS 12.x (repo lock)', node: 24 },
];

function main() {
  const args = process.argv.slice(2);
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  if (args.includes('--list')) {
    for (const line of LINES) {
      console.log(`${line.name}: ${line.title}, Node ${line.node}`);
      if (line.nest) console.log(`  ${JSON.stringify(lineManifest(pkg, line).devDependencies)}`);
    }
    return 0;
  }
  const unknown = args.filter(a => !LINES.some(l => l.name === a));
  if (unknown.length) {
    console.error(`unknown line(s): ${unknown.join(', ')}; lines: ${LINES.map(l => l.name).join(', ')}`);
    return 2;
  }
  const chosen = args.length ? LINES.filter(l => args.includes(l.name)) : LINES;
  mkdirSync(SCRATCH, { recursive: true });
  mkdirSync(JSON_DIR, { recursive: true });

  const rows = [];
  for (const line of chosen) {
    console.log(`\n=== matrix line ${line.name}: ${line.title}, Node ${line.node}`);
    rows.push(runLine(pkg, line));
  }

  console.log(
    '\nline           versions                                       node      install   tests    passed failed skipped',
  );
  let passed = 0;
  let failed = 0;
  for (const r of rows) {
    passed += r.passed;
    failed += r.failed;
    console.log(
      [
        r.name.padEnd(14),
        r.versions.padEnd(46),
        r.nodeVersion.padEnd(9),
        `${r.installSeconds}s`.padStart(7),
        `${r.testSeconds}s`.padStart(7),
        String(r.passed).padStart(9),
        String(r.failed).padStart(6),
        String(r.skipped).padStart(7),
        r.problem ? `  ${r.problem}` : '',
      ].join(' '),
    );
  }
  console.log(`matrix: ${passed} passed, ${failed} failed`);
  return failed === 0 ? 0 : 1;
}

/** Installs (or reuses) the line, runs jest there, reads its JSON result. */
function runLine(pkg, line) {
  const row = {
    name: line.name,
    versions: '',
    nodeVersion: '',
    installSeconds: 0,
    testSeconds: 0,
    passed: 0,
    failed: 0,
    skipped: 0,
    problem: '',
  };
  const started = Date.now();
  let node;
  try {
    node = nodeBinary(line.node);
  } catch (error) {
    return { ...row, failed: 1, problem: `no Node ${line.node}: ${error.message}` };
  }
  row.nodeVersion = run(node, ['--version'], { capture: true }).stdout.trim();

  let cwd = ROOT;
  if (line.nest) {
    cwd = join(SCRATCH, line.name);
    const problem = installLine(pkg, line, cwd, node);
    row.installSeconds = Math.round((Date.now() - started) / 1000);
    if (problem) return { ...row, failed: 1, problem };
  }
  row.versions = installedVersions(cwd);
  reportEngines(cwd, line.node);

  const result = join(JSON_DIR, `test-results-matrix-${line.name}.json`);
  rmSync(result, { force: true });
  const testStart = Date.now();
  const jest = join(cwd, 'node_modules/jest/bin/jest.js');
  const env = {
    ...process.env,
    NODE_OPTIONS: '--experimental-vm-modules',
    // npm and the tests' child processes must find this line's node first.
    PATH: `${dirname(node)}:${process.env.PATH}`,
    MATRIX_LINE: line.name,
  };
  // --forceExit: a line whose failures leave handles open must not hold up the next line.
  const only = (process.env.MATRIX_JEST_ARGS ?? '').split(' ').filter(Boolean);
  run(node, [jest, '--ci', '--forceExit', '--json', `--outputFile=${result}`, ...only], { cwd, env });
  row.testSeconds = Math.round((Date.now() - testStart) / 1000);
  try {
    const r = JSON.parse(readFileSync(result, 'utf8'));
    row.passed = r.numPassedTests;
    row.failed = r.numFailedTests + (r.numRuntimeErrorTestSuites ?? 0);
    row.skipped = r.numPendingTests + (r.numTodoTests ?? 0);
  } catch {
    row.failed = 1;
    row.problem = 'jest wrote no JSON result';
  }
  return row;
}

/** The package.json of a line's scratch folder: the repo's, with the line's versions. */
function lineManifest(pkg, line) {
  const left = new Set([...NOT_FOR_TESTS, ...line.drop]);
  const devDependencies = Object.fromEntries(
    Object.entries({ ...pkg.dependencies, ...pkg.devDependencies }).filter(([name]) => !left.has(name)),
  );
  for (const name of NEST_CORE) devDependencies[name] = line.nest;
  Object.assign(devDependencies, line.peers);
  return { name: `nestjs-prom-metrics-matrix-${line.name}`, private: true, type: 'module', devDependencies };
}

/** Returns a problem, or undefined once the line's node_modules is in place. */
function installLine(pkg, line, dir, node) {
  const manifest = JSON.stringify(lineManifest(pkg, line), null, 2) + '\n';
  const stamp = createHash('sha256').update(manifest).digest('hex');
  const stampFile = join(dir, 'node_modules/.matrix-stamp');
  // The repo's files are copied every run (they change); the install only when the manifest did.
  for (const entry of ['lib', 'test', 'sample']) rmSync(join(dir, entry), { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const entry of ['lib', 'test', 'sample', 'jest.config.js', 'jest.base.js', 'tsconfig.json']) {
    cpSync(join(ROOT, entry), join(dir, entry), {
      recursive: true,
      filter: source => !source.includes('/node_modules'),
    });
  }
  if (existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp) {
    console.log(`reusing ${dir}/node_modules (manifest unchanged; delete the folder to reinstall)`);
    return undefined;
  }
  rmSync(join(dir, 'node_modules'), { recursive: true, force: true });
  rmSync(join(dir, 'package-lock.json'), { force: true });
  writeFileSync(join(dir, 'package.json'), manifest);
  console.log(`npm install in ${dir}`);
  const npmCli = join(dirname(node), '../lib/node_modules/npm/bin/npm-cli.js');
  const npm = existsSync(npmCli) ? [node, [npmCli]] : ['npm', []];
  // npm's own settings for the repo (set when started by `npm run`) must not leak into the install.
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_(config|package)_/.test(key)));
  env.PATH = `${dirname(node)}:${process.env.PATH}`;
  const install = run(
    npm[0],
    [...npm[1], 'install', '--no-audit', '--no-fund', '--no-update-notifier', '--loglevel=error'],
    {
      cwd: dir,
      env,
    },
  );
  if (install.status !== 0) return `npm install exited ${install.status}`;
  writeFileSync(stampFile, stamp);
  return undefined;
}

/** The Node.js binary of a major line: this one when it is that line, else fetched. */
function nodeBinary(major) {
  if (Number(process.versions.node.split('.')[0]) === major) return process.execPath;
  const fetched = run('bash', [join(ROOT, 'test/matrix/node-line.sh'), String(major)], { capture: true });
  if (fetched.status !== 0) throw new Error(fetched.stderr.trim() || `node-line.sh exited ${fetched.status}`);
  return fetched.stdout.trim().split('\n').pop();
}

/** The versions the tests really use: Express and Fastify as the platform packages resolve them. */
function installedVersions(dir) {
  const version = (name, from) => {
    try {
      const base = createRequire(join(dir, 'node_modules', from ?? '', 'package.json'));
      return base(`${name}/package.json`).version;
    } catch {
      return '-';
    }
  };
  return (
    `core ${version('@nestjs/core')} express ${version('express', '@nestjs/platform-express')} ` +
    `fastify ${version('fastify', '@nestjs/platform-fastify')}`
  );
}

/** Lists the installed packages whose `engines.node` refuses the line's Node major (a note, not a failure). */
function reportEngines(dir, major) {
  const refusing = [];
  const visit = modules => {
    let entries;
    try {
      entries = readdirSync(modules);
    } catch {
      return;
    }
    for (const entry of entries) {
      if (entry.startsWith('.')) continue;
      if (entry.startsWith('@')) {
        visit(join(modules, entry));
        continue;
      }
      const folder = join(modules, entry);
      try {
        const manifest = JSON.parse(readFileSync(join(folder, 'package.json'), 'utf8'));
        const wanted = manifest.engines?.node;
        if (typeof wanted === 'string' && !satisfiesMajor(wanted, major)) {
          refusing.push(`${manifest.name}@${manifest.version} wants node ${wanted}`);
        }
      } catch {
        // Not a package folder.
      }
      visit(join(folder, 'node_modules'));
    }
  };
  visit(join(dir, 'node_modules'));
  if (refusing.length) {
    console.log(`note: installed packages whose engines.node excludes Node ${major} (dev or transitive, not ours):`);
    for (const line of refusing) console.log(`  ${line}`);
  }
}

/** A small check of the common engines ranges (`>=22`, `^20.19.0 || >=22.12.0`, `18 || 20 || >=22`). */
function satisfiesMajor(range, major) {
  return range.split('||').some(part => {
    const p = part.trim();
    if (p === '' || p === '*' || p === 'x') return true;
    let m = /^>=?\s*v?(\d+)/.exec(p);
    if (m) return Number(m[1]) <= major;
    m = /^[\^~]?\s*v?(\d+)(?:\.|$|\s)/.exec(p);
    if (m) return Number(m[1]) === major;
    return true;
  });
}

function run(command, args, { cwd = ROOT, env = process.env, capture = false } = {}) {
  const result = spawnSync(command, args, {
    cwd,
    env,
    stdio: capture ? ['ignore', 'pipe', 'pipe'] : 'inherit',
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  if (result.error) return { status: 1, stdout: '', stderr: String(result.error.message) };
  return result;
}

process.exitCode = main();
