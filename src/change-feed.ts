import { ChangeCursor } from './change-cursor.js'
import { errors } from './errors.js'

/** What a change feed tells the row cache. */
export interface ChangeHandlers {
  /** The row with this prefix changed (or was created or deleted): drop it. */
  changed (prefix: string): void
  /** Changes may have been missed (the feed just started or came back): re-read every cached row. */
  resync (): void
  /** The feed broke; changes made elsewhere reach this instance by cacheTtl alone until it is back. */
  broken (err: Error): void
}

/** A source of changes: polled (SQLite, MySQL) or pushed (PostgreSQL LISTEN). */
export interface ChangeFeed {
  /** Settles once the feed is running; rejects only when it never can (NOT_MIGRATED). */
  readonly ready: Promise<void>
  close (): Promise<void>
}

/** The change log's Prisma delegate (e.g. `prisma.apiKeyChange`). */
export interface ChangeLogDelegate {
  findFirst (args: any): PromiseLike<any>
  findMany (args: any): PromiseLike<any>
  deleteMany (args: any): PromiseLike<any>
}

export const CHANGE_LOG_METHODS = ['findFirst', 'findMany', 'deleteMany'] as const

export interface PollSettings {
  model: ChangeLogDelegate
  interval: number
  /** how long a gap in the log's ids is waited for (the cache's TTL) */
  hold: number
  /** how long log rows are kept once read (ms; tests shorten it) */
  retention?: number
  /** log rows a query reads (tests shorten it) */
  page?: number
}

// Rows of the log a query reads; more are read at once, page after page.
const PAGE = 1_000
// Every instance deletes log rows that every instance has read long since:
// those it had itself read an hour ago (a live instance is never an hour
// behind; one that was down re-reads its whole cache when it comes back).
const RETENTION = 60 * 60 * 1000

// A feed's `ready`, and how to settle it. Its rejection is for whoever awaits
// it (the plugin at onReady), not an unhandled one before.
function startup (): { ready: Promise<void>, resolveReady: () => void, rejectReady: (err: Error) => void } {
  let resolveReady!: () => void
  let rejectReady!: (err: Error) => void
  const ready = new Promise<void>((resolve, reject) => { resolveReady = resolve; rejectReady = reject })
  ready.catch(() => {})
  return { ready, resolveReady, rejectReady }
}

// Prisma's codes for a missing table or column.
const isNotMigrated = (err: unknown): boolean => ['P2021', 'P2022'].includes((err as { code?: string })?.code as string)

/**
 * Polls the change log the migration's triggers write (SQLite, MySQL): one
 * indexed query an interval, returning the prefixes changed since the last.
 * A failed poll reports the feed broken once and is tried again at the next
 * interval; the first that succeeds after it resyncs the cache.
 */
export function pollChangeLog (settings: PollSettings, handlers: ChangeHandlers): ChangeFeed {
  const { model, interval, hold, retention = RETENTION, page = PAGE } = settings
  const clock = (): number => performance.now()
  let cursor: ChangeCursor | null = null
  let timer: NodeJS.Timeout | null = null
  let running: Promise<void> = Promise.resolve()
  let closed = false
  let broken = false
  const { ready, resolveReady, rejectReady } = startup()
  // (monotonic time, cursor) pairs, oldest first: what may be pruned when.
  const checkpoints: Array<{ time: number, at: number }> = []
  let prunedAt = clock()

  async function start (): Promise<ChangeCursor> {
    const last = await model.findFirst({ orderBy: { id: 'desc' }, select: { id: true } })
    return new ChangeCursor(last?.id ?? 0, hold)
  }

  async function poll (): Promise<void> {
    if (cursor === null) {
      cursor = await start()
      broken = false
      // Rows cached before the cursor was placed may predate a change.
      handlers.resync()
      resolveReady()
      return
    }
    let from = cursor.at
    for (;;) {
      const rows: Array<{ id: number, prefix: string }> = await model.findMany({
        where: { id: { gt: from } }, orderBy: { id: 'asc' }, take: page, select: { id: true, prefix: true }
      })
      const fresh = new Set(cursor.take(rows.map((row) => row.id), clock()))
      for (const row of rows) if (fresh.has(row.id)) handlers.changed(row.prefix)
      if (rows.length < page) break
      from = rows[rows.length - 1].id
    }
    await prune(cursor.at)
  }

  // Every sixth of the retention, note where this instance stands, and delete
  // what it had read by the newest note that is a whole retention old.
  async function prune (at: number): Promise<void> {
    const now = clock()
    if (now - prunedAt < retention / 6) return
    prunedAt = now
    checkpoints.push({ time: now, at })
    const old = checkpoints.filter((checkpoint) => now - checkpoint.time >= retention)
    if (old.length === 0) return
    checkpoints.splice(0, old.length)
    await model.deleteMany({ where: { id: { lte: old[old.length - 1].at } } })
  }

  // Polls start on a fixed beat, however long each takes, so a change waits
  // at most one interval (plus the query) to be seen.
  let beat = clock() - interval
  function schedule (): void {
    if (closed) return
    beat = Math.max(beat + interval, clock())
    timer = setTimeout(() => {
      timer = null
      running = poll().then(() => {
        if (broken) {
          broken = false
          handlers.resync()
        }
      }, (err: unknown) => {
        if (isNotMigrated(err) && cursor === null) {
          closed = true
          rejectReady(new errors.NOT_MIGRATED('the change log (changeFeed.model)', { cause: err }))
          return
        }
        if (!broken) handlers.broken(new errors.FEED_BROKEN({ cause: err }))
        broken = true
      }).finally(schedule)
    }, beat - clock())
    timer.unref()
  }

  schedule()
  return {
    ready,
    close: async () => {
      closed = true
      if (timer !== null) clearTimeout(timer)
      await running
    }
  }
}

/** The part of a `pg.Client` the listener uses. */
export interface ListenClient {
  connect (): Promise<unknown>
  query (sql: string): Promise<{ rows: unknown[] }>
  on (event: 'notification', listener: (message: { channel: string, payload?: string }) => void): unknown
  on (event: 'error' | 'end', listener: (err?: Error) => void): unknown
  end (): Promise<unknown>
}

export interface ListenSettings {
  /** Makes a new, unconnected client: called again after every lost connection. */
  connect: () => ListenClient
  channel: string
}

// Reconnection waits double from the first to the last, then stay there.
const RECONNECT_FIRST = 250
const RECONNECT_LAST = 30_000

/**
 * Listens on the channel the migration's trigger notifies (PostgreSQL), on
 * a connection of its own: no query at all while nothing changes. A lost
 * connection reports the feed broken and is made again (waits doubling to
 * 30 s); once listening again, the cache is resynced. At the first connection
 * it checks that a trigger calls the migration's function (NOT_MIGRATED).
 */
export function listenForChanges (settings: ListenSettings, handlers: ChangeHandlers): ChangeFeed {
  const { connect, channel } = settings
  let client: ListenClient | null = null
  let closed = false
  let wait = RECONNECT_FIRST
  let timer: NodeJS.Timeout | null = null
  let checked = false
  const { ready, resolveReady, rejectReady } = startup()

  function open (): void {
    const current = connect()
    client = current
    let lost = false
    const onLost = (err?: Error): void => {
      if (lost || closed) return
      lost = true
      client = null
      current.end().catch(() => {})
      handlers.broken(new errors.FEED_BROKEN({ cause: err ?? new Error('the LISTEN connection ended') }))
      retry()
    }
    current.on('error', onLost)
    current.on('end', onLost)
    current.on('notification', (message) => {
      if (message.channel === channel && typeof message.payload === 'string') handlers.changed(message.payload)
    })
    listen(current).then((listening) => {
      if (!listening) return
      wait = RECONNECT_FIRST
      // Rows cached before LISTEN took effect may predate a change.
      handlers.resync()
      resolveReady()
    }, onLost)
  }

  // Connects and listens; false when the database has no trigger to listen to.
  async function listen (current: ListenClient): Promise<boolean> {
    await current.connect()
    if (!checked) {
      const { rows } = await current.query(TRIGGER_CHECK)
      if (rows.length === 0) {
        closed = true
        rejectReady(new errors.NOT_MIGRATED('no trigger calls api_key_notify()'))
        await current.end()
        return false
      }
      checked = true
    }
    await current.query(`LISTEN "${channel}"`)
    return true
  }

  // Only from onLost, which does nothing once closed.
  function retry (): void {
    timer = setTimeout(() => {
      timer = null
      open()
    }, wait)
    timer.unref()
    wait = Math.min(wait * 2, RECONNECT_LAST)
  }

  open()
  return {
    ready,
    close: async () => {
      closed = true
      if (timer !== null) clearTimeout(timer)
      await client?.end().catch(() => {})
      client = null
    }
  }
}

// A trigger anywhere in the database calling the migration's function.
const TRIGGER_CHECK = `SELECT 1 FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
  WHERE p.proname = 'api_key_notify' AND NOT t.tgisinternal LIMIT 1`
