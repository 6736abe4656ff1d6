// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Layers of the shared library, lowest first: a layer may import only layers before it. */
const LAYERS = ['common', 'serde', 'store', 'kafka', 'runner', 'scoring', 'registry'];

// Patterns are regular expressions: in gitignore-style `group` patterns a leading '#' starts a
// comment, so '#shared/...' entries there would be silently ignored.
const alternatives = (names) => `(${names.join('|')})`;
const layerRules = LAYERS.map((layer, index) => {
  const higher = LAYERS.slice(index + 1);
  const lower = LAYERS.slice(0, index);
  return {
    files: [`services/shared/src/${layer}/**/*.ts`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            ...(higher.length
              ? [
                  {
                    regex: `^(#shared/${alternatives(higher)}$|\\.\\./${alternatives(higher)}/)`,
                    message: `shared/${layer} is below ${higher.join(', ')} and must not import them`,
                  },
                ]
              : []),
            ...(lower.length
              ? [
                  {
                    regex: `^\\.\\./${alternatives(lower)}/`,
                    message:
                      'import a lower layer through its entry point (#shared/<layer>), not its files',
                  },
                ]
              : []),
          ],
        },
      ],
    },
  };
});

export default tseslint.config(
  { ignores: ['node_modules/', 'var/', 'dist/', 'coverage/', '**/*.generated.ts', 'models/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly' },
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      eqeqeq: ['error', 'always'],
    },
  },
  {
    // A service never imports another service's files: what two share belongs in shared/.
    files: ['services/*/**/*.ts'],
    ignores: ['services/shared/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['../*/**', '!../shared/**'], message: 'services must not import each other' },
            {
              group: ['**/shared/src/**'],
              message: 'import the shared library through #shared/<layer>, not its files',
            },
          ],
        },
      ],
    },
  },
  {
    // Tools and tests use the shared library through its layer entry points only.
    files: ['scripts/**/*.ts', 'tests/**/*.ts', 'infra/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/shared/src/**', '!**/shared/src/*/index.ts'],
              message: 'import the shared library through #shared/<layer>, not its files',
            },
          ],
        },
      ],
    },
  },
  ...layerRules,
  {
    // The model runtime sits beside serde: it builds on common only and knows nothing of Kafka.
    files: ['services/shared/src/model/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(#shared/(?!common$)|\\.\\./)',
              message: 'shared/model depends on shared/common only (through #shared/common)',
            },
          ],
        },
      ],
    },
  },
  {
    // Drift statistics are pure math: they build on common only.
    files: ['services/shared/src/drift/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              // A regex: in gitignore-style `group` patterns a leading '#' starts a comment.
              regex: '^(#shared/(?!common$)|\\.\\./)',
              message: 'shared/drift depends on shared/common only (through #shared/common)',
            },
          ],
        },
      ],
    },
  },
  {
    // Head training builds on the model runtime and the drift statistics, nothing above them.
    files: ['services/shared/src/training/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(#shared/(?!(common|model|drift)$)|\\.\\./)',
              message:
                'shared/training depends on shared/common, shared/model and shared/drift only (through #shared/<layer>)',
            },
          ],
        },
      ],
    },
  },
);
