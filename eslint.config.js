import tseslint from 'typescript-eslint';
import { domainPurity } from './infra/eslint/domain-purity.js';

export default tseslint.config(
  { ignores: ['node_modules/**', '.data/**', 'dist/**', '.tmp/**', 'bench/results/**', 'infra/kafka/lib/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': ['error', { selector: 'ExportDefaultDeclaration', message: 'no default exports' }],
    },
  },
  {
    files: ['domain/**/*.ts'],
    plugins: { local: { rules: { 'domain-purity': domainPurity } } },
    rules: { 'local/domain-purity': 'error' },
  },
  {
    files: ['eslint.config.js', 'vitest.config.ts'],
    rules: { 'no-restricted-syntax': 'off' },
  },
);
