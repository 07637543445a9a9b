import { executionAsyncResource } from 'node:async_hooks'

// Node's process.nextTick (seen on 20, 22 and 24) builds each tick as an
// object literal, and the hidden classes (maps) of that literal are held only
// by ticks still queued. A full garbage collection at a moment no tick is
// queued frees them; the next tick makes new ones, and once nextTick's inline
// caches have met five generations of them they stay megamorphic for the life
// of the process: every tick, in Node's HTTP code and everyone else's, then
// costs about four times as much. A Prisma app runs several full collections
// while it starts (the generated client, the query compiler), so a server with
// this plugin paid ~5 µs on every request on Node 20, on its unprotected
// routes too (docs/performance.md; test/tick-shape.test.ts reads V8's
// feedback). Holding one tick keeps the maps alive: every later tick reuses them.
// Until that tick runs, a placeholder: a second registration schedules no other.
let kept: object | undefined

/** Keeps one nextTick object for the life of the process (inside a tick, the execution's resource is the tick). */
export function keepTickShape (): void {
  if (kept !== undefined) return
  kept = {}
  process.nextTick(() => { kept = executionAsyncResource() })
}
