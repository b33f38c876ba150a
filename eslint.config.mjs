// `npm run lint` (run by `npm test`): a small rule set, each rule catching a mistake tsc lets through. Not the
// whole recommended preset: `require()` is how the engines load optionally (create-cpu.ts), and tests may use `any`
// on decoded guest data.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'lib/', 'node_modules/', '.cache/', 'samples/', 'out/'] },
  {
    files: ['**/*.ts'],
    languageOptions: { parser: tseslint.parser },
    plugins: { '@typescript-eslint': tseslint.plugin },
    rules: {
      // Dead imports and variables: left behind by refactors, they hide what a file really uses.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // A statement that computes and drops a value is a call or an assertion that was meant.
      '@typescript-eslint/no-unused-expressions': 'error',
      // `a?.b!` asserts exactly what the optional chain allows to be undefined.
      '@typescript-eslint/no-non-null-asserted-optional-chain': 'error',
      // ts-ignore hides errors silently; ts-expect-error fails when the error goes away.
      '@typescript-eslint/ban-ts-comment': ['error', { 'ts-expect-error': 'allow-with-description' }],
      // A `let` read by a closure before its one assignment (simple-text-output.ts `mode`) stays a let.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      'no-var': 'error',
      // == between a bigint and a number or string converts; the firmware compares 64-bit values a lot.
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      'no-debugger': 'error',
    },
  },
);
