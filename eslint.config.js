import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  // connectors/vcf/assembly is AssemblyScript (scripts/build-wasm.mjs compiles it).
  { ignores: ['node_modules/', '.stack/', 'test-artifacts/', '.build/', 'connectors/vcf/assembly/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ['*.js', 'bin/*.js', 'scripts/*.mjs'] }, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // Async functions that implement async interfaces need no await of their own.
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-syntax': [
        'error',
        {
          selector: "MemberExpression[object.name='process'][property.name='env']",
          message: 'Only platform/config.ts reads the environment; take a Config instead.',
        },
      ],
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['**/services/**'], message: 'connectors and services never import services; share code through platform/.' },
          ],
        },
      ],
    },
  },
  {
    // Plain JavaScript that runs before any TypeScript: the bin shim and the build script.
    files: ['bin/*.js', 'scripts/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly', performance: 'readonly' } },
    rules: { 'no-restricted-syntax': 'off' },
  },
  {
    files: ['platform/config.ts'],
    rules: { 'no-restricted-syntax': 'off' },
  },
  {
    // Composition roots and tests may wire services together.
    files: ['cli/**', 'test/**', 'bench/**'],
    rules: { 'no-restricted-imports': 'off' },
  },
  {
    files: ['services/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/connectors/**'], message: 'services never import connectors; share code through platform/.' }] },
      ],
    },
  },
  {
    files: ['**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
);
