// ESLint (flat config): typescript-eslint's type-checked strict rules (strictTypeChecked: floating
// promises, misused promises, unsafe `any`, ...), formatting left to Prettier. Each tsconfig.json of
// the repo gives the types of the files it includes (parserOptions.projectService).
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'dist/',
      'node_modules/',
      'coverage/',
      'bench/results/',
      '.tmp/',
      'test/consumers/*/node_modules/',
      'test/docs/.generated/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  prettier,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        URL: 'readonly',
        URLSearchParams: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        setImmediate: 'readonly',
        performance: 'readonly',
        fetch: 'readonly',
        require: 'readonly',
        module: 'writable',
        __dirname: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
      // Nest modules and test fixtures are empty classes that only carry decorators.
      '@typescript-eslint/no-extraneous-class': ['error', { allowWithDecorator: true }],
      // A typed name for `this`, handed to callbacks that Express and Fastify call with their own `this`.
      '@typescript-eslint/no-this-alias': ['error', { allowedNames: ['inspector'] }],
      // Numbers in messages, label values and URLs print as expected; `undefined`, objects and the
      // other types the rule checks stay errors.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      // `() => server.close()` as a callback is clearer than a block; a void value used anywhere
      // else (assigned, returned from a block, in a condition) stays an error.
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
      // The checks it calls unnecessary are on purpose: options are validated at runtime because
      // JavaScript callers and configuration files are not type-checked (prometheus-options.ts), and
      // the shapes of Nest, Express, Fastify and prom-client internals differ between the versions
      // the peer range allows (lib/compat), whatever the installed typings say.
      '@typescript-eslint/no-unnecessary-condition': 'off',
      // The same for `x === true` on values typed boolean: an option or metadata value that a
      // JavaScript caller set to 'yes' must not pass for true.
      '@typescript-eslint/no-unnecessary-boolean-literal-compare': 'off',
      // And for String(x) / Number(x) on values typed string or number: the conversion is the guard.
      '@typescript-eslint/no-unnecessary-type-conversion': 'off',
      // Nest types its options (NestApplicationOptions, ModuleMetadata, ...) as classes that callers
      // are meant to pass as object literals.
      '@typescript-eslint/no-unsafe-class-instance-assignment': 'off',
    },
  },
  {
    // Plain JavaScript (the jest and ESLint configs, scripts, the matrix runner, the consumer apps):
    // no tsconfig includes them, so there are no types to check them against.
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    // Tests assert that a value exists before reading it; `!` after that is the test's point.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      // Nest types `app.getHttpServer()` and supertest types `res.body` as `any`: tests hand the
      // first to supertest and assert on the second, which is what they are for. lib/ keeps these on.
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      // Fixtures declare async methods and factories without `await` on purpose: what is tested is
      // what decorators and Nest do with a method that returns a Promise.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    // The consumer apps are plain JavaScript as a user writes it (CommonJS in the Nest 11 one); a
    // function that is never called holds their type-level checks.
    files: ['test/consumers/**/*.js'],
    rules: {
      '@typescript-eslint/no-require-imports': 'off',
      '@typescript-eslint/no-extraneous-class': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { varsIgnorePattern: '^typingsResolved$' }],
    },
  },
  {
    // The status page's script runs in the browser, beside uPlot's (a global of its own); the
    // browser test's page functions run there too.
    files: ['lib/status-page/assets/**/*.js', 'test/browser/**/*.mjs'],
    languageOptions: { globals: { document: 'readonly', uPlot: 'readonly' } },
  },
);
