// ESLint (flat config): typescript-eslint's strict rules, formatting left to Prettier.
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
  ...tseslint.configs.strict,
  prettier,
  {
    languageOptions: {
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
    },
  },
  {
    // Tests assert that a value exists before reading it; `!` after that is the test's point.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off' },
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
