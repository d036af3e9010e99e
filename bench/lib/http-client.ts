/**
 * A lean HTTP/1.1 client for load generation: one keep-alive TCP connection,
 * one request at a time, the request written as one buffer and the answer
 * read by Content-Length. It exists because the benchmark client shares the
 * machine's two cores with the server and the database it measures: Node's
 * http.request took ~110 µs of CPU per request here, this ~20 µs, so the
 * figures say more about Dosis and less about the load generator (whose
 * real counterparts run on other machines).
 *
 * It speaks only what the benchmarks need: POST with a body, an answer with
 * Content-Length (fastify always sends one for these routes). Anything else
 * fails the request loudly rather than being misread.
 */
import net from 'node:net';

export interface Answer {
  status: number;
  /** The body, only when `wantBody` says so (reading it costs). */
  body: string;
}

const HEADER_END = Buffer.from('\r\n\r\n');

export class HttpConnection {
  private readonly socket: net.Socket;
  private buffered: Buffer = Buffer.alloc(0);
  private pending: { resolve: (a: Answer) => void; reject: (e: Error) => void; wantBody: (status: number) => boolean } | undefined;
  private readonly ready: Promise<void>;

  constructor(port: number, host = '127.0.0.1') {
    this.socket = net.connect({ port, host, noDelay: true });
    this.ready = new Promise((resolve, reject) => {
      this.socket.once('connect', () => resolve());
      this.socket.once('error', reject);
    });
    this.socket.on('data', (chunk: Buffer) => {
      this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
      this.parse();
    });
    const fail = (e: Error) => {
      const p = this.pending;
      this.pending = undefined;
      p?.reject(e);
    };
    this.socket.on('error', fail);
    this.socket.on('close', () => fail(new Error('connection closed')));
  }

  /** POST `body` to `path`; resolves with the status (and the body when `wantBody(status)`). */
  async post(path: string, body: Buffer, headers: Record<string, string>, wantBody: (status: number) => boolean = () => true): Promise<Answer> {
    await this.ready;
    if (this.pending) throw new Error('HttpConnection: one request at a time');
    let head = `POST ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n`;
    for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
    const answer = new Promise<Answer>((resolve, reject) => (this.pending = { resolve, reject, wantBody }));
    this.socket.write(Buffer.concat([Buffer.from(head + '\r\n', 'latin1'), body]));
    return answer;
  }

  close(): void {
    this.socket.destroy();
  }

  private parse(): void {
    if (!this.pending) return;
    const end = this.buffered.indexOf(HEADER_END);
    if (end < 0) return;
    const head = this.buffered.toString('latin1', 0, end);
    const status = Number(head.slice(9, 12));
    const m = /\r\ncontent-length: *(\d+)/i.exec(head);
    if (!m || !Number.isInteger(status)) {
      const p = this.pending;
      this.pending = undefined;
      p.reject(new Error(`unreadable answer: ${head.slice(0, 200)}`));
      this.socket.destroy();
      return;
    }
    const total = end + 4 + Number(m[1]);
    if (this.buffered.length < total) return;
    const p = this.pending;
    this.pending = undefined;
    const body = p.wantBody(status) ? this.buffered.toString('utf8', end + 4, total) : '';
    this.buffered = this.buffered.subarray(total);
    p.resolve({ status, body });
  }
}
