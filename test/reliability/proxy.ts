/**
 * A TCP proxy on loopback that reliability tests put between the app and MariaDB or Elasticsearch,
 * so that an outage can be simulated without touching the shared services: `cut()` resets every
 * connection and refuses new ones, `blackhole()` keeps connections open but forwards nothing,
 * `restore()` goes back to forwarding. For MySQL it also reads the protocol far enough to know each
 * connection's server thread id (for KILL), to see every command the client sends, and to hold a
 * connection at a chosen statement so a test can fault it at a known point of a transaction.
 */
import net from 'node:net'

export type ProxyMode = 'open' | 'cut' | 'blackhole'

export interface MysqlCommand {
  connection: ProxiedConnection
  /** The command byte: 0x03 COM_QUERY, 0x01 COM_QUIT, ... */
  command: number
  /** The statement text of a COM_QUERY. */
  sql?: string
}

/**
 * What to do with a connection when a command matches: 'request' holds the command itself (the
 * server never sees it), 'reply' forwards it but holds everything the server answers from then on.
 */
export type HoldKind = 'request' | 'reply'

interface HoldRequest {
  match: (command: MysqlCommand) => boolean
  kind: HoldKind
  resolve: (held: ProxiedConnection) => void
}

const COM_QUERY = 0x03

export class ProxiedConnection {
  /** MariaDB's id for this connection (what KILL takes), read from the server's handshake. */
  threadId: number | undefined
  holding: HoldKind | undefined
  readonly commands: string[] = []
  private toServer: Buffer[] = []
  private toClient: Buffer[] = []
  private clientParse = Buffer.alloc(0)
  private serverParse = Buffer.alloc(0)
  private sawHandshake = false
  closed = false

  constructor(
    readonly proxy: TcpProxy,
    readonly client: net.Socket,
    readonly server: net.Socket,
  ) {}

  fromClient(chunk: Buffer): void {
    if (this.proxy.mysql) {
      this.clientParse = Buffer.concat([this.clientParse, chunk])
      // Frame MySQL packets: 3-byte little-endian length, 1-byte sequence id, payload.
      while (this.clientParse.length >= 4) {
        const length = this.clientParse.readUIntLE(0, 3)
        if (this.clientParse.length < 4 + length) break
        const packet = this.clientParse.subarray(0, 4 + length)
        this.clientParse = this.clientParse.subarray(4 + length)
        this.clientPacket(Buffer.from(packet))
      }
      return
    }
    this.sendToServer(chunk)
  }

  private clientPacket(packet: Buffer): void {
    const sequence = packet[3]
    if (sequence === 0 && packet.length > 4 && this.holding !== 'request') {
      const command = packet[4] as number
      const sql = command === COM_QUERY ? packet.subarray(5).toString('utf8') : undefined
      if (sql !== undefined) this.commands.push(sql)
      this.proxy.observe({ connection: this, command, sql })
      const rewritten = sql === undefined ? undefined : this.proxy.rewrite(sql)
      if (rewritten !== undefined) {
        // The same command with other text: the server answers it as it would that text.
        const payload = Buffer.concat([Buffer.from([COM_QUERY]), Buffer.from(rewritten, 'utf8')])
        const header = Buffer.alloc(4)
        header.writeUIntLE(payload.length, 0, 3)
        header[3] = 0
        packet = Buffer.concat([header, payload])
      }
      const hold = this.proxy.takeHold({ connection: this, command, sql })
      if (hold) {
        this.holding = hold.kind
        if (hold.kind === 'reply') this.sendToServer(packet)
        else this.toServer.push(packet)
        hold.resolve(this)
        return
      }
    }
    this.sendToServer(packet)
  }

  private sendToServer(chunk: Buffer): void {
    if (this.holding === 'request' || this.proxy.mode === 'blackhole') this.toServer.push(chunk)
    else if (!this.server.destroyed) this.server.write(chunk)
  }

  fromServer(chunk: Buffer): void {
    if (this.proxy.mysql) {
      this.serverParse = Buffer.concat([this.serverParse, chunk])
      while (this.serverParse.length >= 4) {
        const length = this.serverParse.readUIntLE(0, 3)
        if (this.serverParse.length < 4 + length) break
        const payload = this.serverParse.subarray(4, 4 + length)
        if (!this.sawHandshake) {
          this.sawHandshake = true
          // Handshake v10: protocol byte, NUL-terminated server version, then the 4-byte thread id.
          const end = payload.indexOf(0, 1)
          if (payload[0] === 10 && end > 0) this.threadId = payload.readUInt32LE(end + 1)
        } else if (payload[0] === 0xff && payload.length >= 3) {
          this.proxy.serverErrors.set(payload.readUInt16LE(1), (this.proxy.serverErrors.get(payload.readUInt16LE(1)) ?? 0) + 1)
        }
        this.serverParse = this.serverParse.subarray(4 + length)
      }
    }
    if (this.holding === 'reply' || this.proxy.mode === 'blackhole') this.toClient.push(chunk)
    else if (!this.client.destroyed) this.client.write(chunk)
  }

  /** Forwards whatever was held, both ways, and lets the connection run on. */
  release(): void {
    this.holding = undefined
    this.flush()
  }

  flush(): void {
    if (this.proxy.mode === 'blackhole' || this.holding) return
    const toServer = this.toServer
    const toClient = this.toClient
    this.toServer = []
    this.toClient = []
    for (const chunk of toServer) if (!this.server.destroyed) this.server.write(chunk)
    for (const chunk of toClient) if (!this.client.destroyed) this.client.write(chunk)
  }

  /** Both sides closed in an orderly way. */
  end(): void {
    this.closed = true
    this.client.destroy()
    this.server.destroy()
  }

  /** Both sides see a TCP reset, as when a network path or the server dies. */
  reset(): void {
    this.closed = true
    if (!this.client.destroyed) this.client.resetAndDestroy()
    if (!this.server.destroyed) this.server.resetAndDestroy()
  }
}

export interface ProxyOptions {
  targetHost?: string
  targetPort: number
  /** Parse the MySQL protocol (thread ids, commands, holds, server error counts). */
  mysql?: boolean
  /** Delay, in ms, added to everything the server sends back (a slow network or server). */
  replyDelayMs?: number
}

export class TcpProxy {
  mode: ProxyMode = 'open'
  readonly connections = new Set<ProxiedConnection>()
  /** Every connection ever accepted, open or closed. */
  accepted = 0
  /** Server error packets seen, by MySQL error number (1213 deadlock, 1062 duplicate key, ...). */
  readonly serverErrors = new Map<number, number>()
  /** COM_QUERY statements seen, in order, across all connections (bounded). */
  readonly statements: string[] = []
  private holds: HoldRequest[] = []
  private rewrites: Array<{ match: (sql: string) => boolean; sql: string }> = []
  private observers: Array<(command: MysqlCommand) => void> = []
  readonly mysql: boolean
  private replyDelayMs: number

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
    private readonly options: ProxyOptions,
  ) {
    this.mysql = options.mysql ?? false
    this.replyDelayMs = options.replyDelayMs ?? 0
  }

  static async start(options: ProxyOptions): Promise<TcpProxy> {
    const server = net.createServer()
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(0, '127.0.0.1', () => resolve())
    })
    const proxy = new TcpProxy(server, (server.address() as net.AddressInfo).port, options)
    server.on('connection', (client) => proxy.accept(client))
    return proxy
  }

  setReplyDelay(ms: number): void {
    this.replyDelayMs = ms
  }

  private accept(client: net.Socket): void {
    this.accepted++
    client.on('error', () => {})
    if (this.mode === 'cut') {
      client.resetAndDestroy()
      return
    }
    const server = net.connect({ host: this.options.targetHost ?? '127.0.0.1', port: this.options.targetPort })
    server.on('error', () => {})
    const connection = new ProxiedConnection(this, client, server)
    this.connections.add(connection)
    client.on('data', (chunk: Buffer) => connection.fromClient(chunk))
    server.on('data', (chunk: Buffer) => {
      if (this.replyDelayMs > 0) {
        server.pause()
        setTimeout(() => {
          connection.fromServer(chunk)
          server.resume()
        }, this.replyDelayMs)
      } else connection.fromServer(chunk)
    })
    // Whichever side goes away, the other goes too: a KILLed session looks dead to the app.
    const close = () => {
      connection.closed = true
      this.connections.delete(connection)
      if (!client.destroyed) client.destroy()
      if (!server.destroyed) server.destroy()
    }
    client.on('close', close)
    server.on('close', close)
  }

  observe(command: MysqlCommand): void {
    if (command.sql !== undefined && this.statements.length < 200_000) this.statements.push(command.sql)
    for (const observer of this.observers) observer(command)
  }

  onCommand(observer: (command: MysqlCommand) => void): void {
    this.observers.push(observer)
  }

  takeHold(command: MysqlCommand): HoldRequest | undefined {
    const index = this.holds.findIndex((hold) => hold.match(command))
    if (index < 0) return undefined
    return this.holds.splice(index, 1)[0]
  }

  /** Resolves with the connection once a command matching `match` arrives and has been held. */
  holdNext(match: (command: MysqlCommand) => boolean, kind: HoldKind = 'request'): Promise<ProxiedConnection> {
    return new Promise((resolve) => this.holds.push({ match, kind, resolve }))
  }

  /** From now on, every statement `match` accepts reaches the server as `sql` instead (a statement the server refuses, say). */
  rewriteStatements(match: (sql: string) => boolean, sql: string): void {
    this.rewrites.push({ match, sql })
  }

  /** The text a statement is sent as, when a rewrite applies to it. */
  rewrite(sql: string): string | undefined {
    return this.rewrites.find((r) => r.match(sql))?.sql
  }

  /** Drops holds that never matched. */
  clearHolds(): void {
    this.holds = []
  }

  /** The service is down: every open connection is reset and new ones are refused. */
  cut(): void {
    this.mode = 'cut'
    for (const connection of [...this.connections]) connection.reset()
  }

  /** The network stops delivering: connections stay open, nothing gets through either way. */
  blackhole(): void {
    this.mode = 'blackhole'
  }

  /** The service is back. */
  restore(): void {
    this.mode = 'open'
    for (const connection of this.connections) connection.flush()
  }

  async close(): Promise<void> {
    this.clearHolds()
    for (const connection of [...this.connections]) connection.end()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }
}
