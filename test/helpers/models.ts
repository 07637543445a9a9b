import { DELEGATE_METHODS } from '../../src/store.ts'
import type { ApiKeyDelegate } from '../../src/index.ts'

type Method = (typeof DELEGATE_METHODS)[number]

/** The real model delegate, with some of its methods replaced. */
export function withMethods (real: any, replaced: Partial<Record<Method, (args: any) => Promise<any>>> = {}): ApiKeyDelegate {
  const bound = Object.fromEntries(DELEGATE_METHODS.map((name) => [name, real[name].bind(real)]))
  return { ...bound, ...replaced } as unknown as ApiKeyDelegate
}

/** The real model delegate, with every call counted by method name. */
export function counted (real: any): { model: ApiKeyDelegate, calls: Record<string, number> } {
  const calls: Record<string, number> = {}
  const model = withMethods(real, Object.fromEntries(DELEGATE_METHODS.map((name) => [name, async (args: unknown) => {
    calls[name] = (calls[name] ?? 0) + 1
    return await real[name](args)
  }])))
  return { model, calls }
}
