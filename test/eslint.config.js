import neostandard from 'neostandard'

export default [
  ...neostandard({ ts: true, ignores: ['dist/**', 'prisma/generated/**', 'examples/*/generated/**', 'coverage/**', '.tap/**'] }),
  {
    rules: {
      // Prisma delegates are generic in ways a library cannot name; `any`
      // appears only at that boundary and in tests.
      '@typescript-eslint/no-explicit-any': 'off'
    }
  }
]
