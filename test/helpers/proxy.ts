import { once } from 'node:events'
import { createConnection, createServer, type Socket } from 'node:net'

/** A TCP forwarder between a database client and its server that a test can cut and restore. */
export interface TcpProxy {
  readonly port: number
  /** Resets every open connection, both ways, and every new one until restore(). */
  cut (): void
  /**
   * Arms a cut for the moment the server answers the next query whose text
   * contains `text`: the query reaches the server, its answer never reaches
   * the client (the write may have committed, the client cannot know).
   */
  cutOnAnswerTo (text: string): void
  restore (): void
  close (): Promise<void>
}

export async function startProxy (targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  const sockets = new Set<Socket>()
  let up = true
  let trigger: Buffer | null = null
  const track = (socket: Socket): void => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
    // A reset seen from either side is the point of the exercise, not a failure of the test.
    socket.on('error', () => {})
  }

  // During a cut the proxy keeps listening and resets what comes in, rather
  // than closing its port: a client sees the failure at once (no timeout to
  // wait for), and restore() cannot lose the port to another process.
  const server = createServer((client) => {
    track(client)
    if (!up) {
      client.resetAndDestroy()
      return
    }
    const upstream = createConnection({ host: targetHost, port: targetPort })
    track(upstream)
    // By hand rather than pipe(), to see the queries go by. Backpressure is
    // left out: test traffic is small.
    let answerLost = false
    client.on('data', (chunk: Buffer) => {
      if (trigger !== null && chunk.includes(trigger)) {
        trigger = null
        answerLost = true
      }
      upstream.write(chunk)
    })
    upstream.on('data', (chunk: Buffer) => {
      if (answerLost) cut()
      else client.write(chunk)
    })
    client.once('close', () => upstream.destroy())
    upstream.once('close', () => client.destroy())
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('the proxy has no TCP port')

  function cut (): void {
    up = false
    // A reset (RST), not a polite close: the driver learns at once that its
    // connection is gone, as when a server or a network path dies.
    for (const socket of sockets) socket.resetAndDestroy()
  }

  return {
    port: address.port,
    cut,
    cutOnAnswerTo (text) {
      trigger = Buffer.from(text)
    },
    restore () {
      up = true
      trigger = null
    },
    async close () {
      for (const socket of sockets) socket.destroy()
      server.close()
      await once(server, 'close')
    }
  }
}
