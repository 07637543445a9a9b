import neostandard from 'neostandard'

// The admin page's script runs in the browser: the DOM names it uses. Its
// types are checked by tsc against the DOM (test/tsconfig.browser.json).
const BROWSER = ['confirm', 'Option', 'HTMLElement', 'HTMLInputElement', 'HTMLSelectElement', 'HTMLDialogElement', 'SVGSVGElement', 'HTMLButtonElement',
  'HTMLFormElement', 'HTMLTableSectionElement']

export default [
  ...neostandard({ ts: true, ignores: ['dist/**', 'prisma/generated/**', 'examples/*/generated/**', 'coverage/**', '.tap/**'] }),
  {
    rules: {
      // Prisma delegates are generic in ways a library cannot name; `any`
      // appears only at that boundary and in tests.
      '@typescript-eslint/no-explicit-any': 'off'
    }
  },
  {
    files: ['assets/admin/**/*.js'],
    languageOptions: { globals: Object.fromEntries(BROWSER.map((name) => [name, 'readonly'])) }
  }
]
