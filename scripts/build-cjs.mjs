// Builds dist/cjs for CommonJS apps (NestJS 11) from lib/, beside tsc's ESM build in dist/esm.
// Each file is transpiled on its own (decorator metadata included); types are checked by the ESM build.
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import ts from 'typescript';

const root = join(dirname(new URL(import.meta.url).pathname), '..');
const src = join(root, 'lib');
const esm = join(root, 'dist/esm');
const out = join(root, 'dist/cjs');

function* files(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* files(path);
    else yield path;
  }
}

for (const file of files(src)) {
  // Unit tests live beside the code (lib/**/*.spec.ts, with their *.spec-fixtures.ts) and stay out of the package.
  if (!file.endsWith('.ts') || file.endsWith('.spec.ts') || file.endsWith('.spec-fixtures.ts')) continue;
  const rel = relative(src, file);
  // `import.meta` does not exist in CommonJS: the module's own URL comes from `__filename` there.
  const source = readFileSync(file, 'utf8').replaceAll(
    'import.meta.url',
    "require('node:url').pathToFileURL(__filename).href",
  );
  const { outputText, diagnostics } = ts.transpileModule(source, {
    fileName: file,
    reportDiagnostics: true,
    compilerOptions: {
      module: ts.ModuleKind.CommonJS,
      target: ts.ScriptTarget.ES2022,
      experimentalDecorators: true,
      emitDecoratorMetadata: true,
      esModuleInterop: true,
    },
  });
  if (diagnostics?.length) {
    throw new Error(ts.formatDiagnostics(diagnostics, ts.createCompilerHost({})));
  }
  const target = join(out, rel.replace(/\.ts$/, '.js'));
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, outputText);
  // The same declarations serve both builds; beside a "commonjs" package.json they describe CJS.
  copyFileSync(join(esm, rel.replace(/\.ts$/, '.d.ts')), target.replace(/\.js$/, '.d.ts'));
}
writeFileSync(join(out, 'package.json'), JSON.stringify({ type: 'commonjs' }, null, 2) + '\n');
