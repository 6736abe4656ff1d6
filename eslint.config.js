// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The shared code's architecture, as the import rules below enforce it (README "Code layout"):
 *
 * - services/platform/<layer>: what any Kafka/ClickHouse service needs, no sentiment domain.
 *   Layers, lowest first: a layer imports only the layers before it, through `#platform/<layer>`.
 * - services/domain/<part>: the sentiment model and its lifecycle. A part imports any platform
 *   layer and the domain parts it lists, through `#platform/...` and `#domain/<part>`. The
 *   platform never imports the domain.
 * - services/<service>/: one service; it uses platform and domain through their entry points
 *   and never another service's files. Code only one service uses lives in that service
 *   (services/retrainer/training).
 */
const PLATFORM_LAYERS = ['common', 'serde', 'store', 'kafka', 'runner'];
/** Each domain part and the domain parts it may import. */
const DOMAIN_PARTS = {
  model: { platform: ['common'], domain: [] },
  drift: { platform: ['common'], domain: [] },
  scoring: { platform: PLATFORM_LAYERS, domain: ['model'] },
  registry: { platform: PLATFORM_LAYERS, domain: ['model', 'drift'] },
};

// Patterns are regular expressions: in gitignore-style `group` patterns a leading '#' starts a
// comment, so '#platform/...' entries there would be silently ignored.
const alternatives = (names) => `(${names.join('|')})`;
/** An import of `#<root>/<name>` whose name is not in `allowed`. */
const aliasOutside = (root, allowed) =>
  allowed.length ? `^#${root}/(?!${alternatives(allowed)}$)` : `^#${root}/`;
const noRelativeEscape = {
  regex: '^\\.\\./',
  message: 'import other shared code through its entry point (#platform/<layer>, #domain/<part>)',
};

const platformRules = PLATFORM_LAYERS.map((layer, index) => {
  const lower = PLATFORM_LAYERS.slice(0, index);
  return {
    files: [`services/platform/${layer}/**/*.ts`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: aliasOutside('platform', lower),
              message: `platform/${layer} may import only ${lower.length ? lower.join(', ') : 'nothing of the platform'} (layers below it)`,
            },
            { regex: '^#domain/', message: 'the platform never imports the domain' },
            noRelativeEscape,
          ],
        },
      ],
    },
  };
});

const domainRules = Object.entries(DOMAIN_PARTS).map(([part, allowed]) => ({
  files: [`services/domain/${part}/**/*.ts`],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: [
          {
            regex: aliasOutside('platform', allowed.platform),
            message: `domain/${part} builds on platform ${allowed.platform.join(', ')} only`,
          },
          {
            regex: aliasOutside('domain', allowed.domain),
            message: `domain/${part} may import ${allowed.domain.length ? `domain ${allowed.domain.join(', ')}` : 'no other domain part'}`,
          },
          noRelativeEscape,
        ],
      },
    ],
  },
}));

/** Paths into shared code other than an entry point (index.ts). */
const DEEP_SHARED_IMPORT = [
  '**/platform/*/**',
  '!**/platform/*/index.ts',
  '**/domain/*/**',
  '!**/domain/*/index.ts',
];

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
  // A service never imports another service's files, nor shared code past its entry point.
  // Relative paths that leave the service's folder depend on how deep the importing file is.
  ...[
    { files: ['services/*/*.ts'], leave: '../*/**' },
    { files: ['services/*/*/*.ts'], leave: '../../*/**' },
    { files: ['services/*/*/*/**/*.ts'], leave: '../../../*/**' },
  ].map(({ files, leave }) => ({
    files,
    ignores: ['services/platform/**', 'services/domain/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: [leave], message: 'services must not import each other' },
            {
              group: ['**/platform/**', '**/domain/**'],
              message: 'import shared code through #platform/<layer> or #domain/<part>',
            },
          ],
        },
      ],
    },
  })),
  {
    // Tools and tests use shared code and the retrainer's training library through their entry
    // points only; a service's own modules are what its unit tests test.
    files: ['scripts/**/*.ts', 'tests/**/*.ts', 'infra/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                ...DEEP_SHARED_IMPORT,
                '**/retrainer/training/*',
                '!**/retrainer/training/index.ts',
              ],
              message:
                'import shared code through #platform/<layer> or #domain/<part>, and training through its index.ts',
            },
          ],
        },
      ],
    },
  },
  ...platformRules,
  ...domainRules,
  {
    // Head training (the retrainer's) builds on common, the model runtime and the drift
    // statistics only.
    files: ['services/retrainer/training/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: `${aliasOutside('platform', ['common'])}|${aliasOutside('domain', ['model', 'drift'])}|^\\.\\./`,
              message:
                'retrainer/training depends on platform common and domain model and drift only',
            },
          ],
        },
      ],
    },
  },
);
