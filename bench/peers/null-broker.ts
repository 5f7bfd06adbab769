/**
 * A do-nothing MQTT endpoint for calibrating the load generator: it accepts CONNECT and
 * SUBSCRIBE, acknowledges QoS 1 PUBLISH and otherwise discards them ("sink"), and in "blast"
 * mode streams pre-built QoS 0 PUBLISH batches to every subscriber as fast as TCP allows, once
 * <subscribers> have subscribed (bounded to 60 s). It routes nothing, so it shows the generator's
 * ceiling.
 *
 * Usage: node bench/peers/null-broker.ts <port> sink|blast [<subscribers>]   (prints READY)
 */
import net from 'node:net';
import { FrameScanner, PUBLISH, PublishTemplate, publishPacketId } from '../lib/wire.ts';

const [portArg, mode, subscribersArg] = process.argv.slice(2);
const expected = Number(subscribersArg ?? 1);
const waiting: Array<() => void> = [];
const BLAST = new PublishTemplate('bench/fan/t', 0, 32).fill(1000);

function serve(socket: net.Socket): void {
  socket.setNoDelay(true);
  let acks: number[] = [];
  let blasting = false;
  const blast = (): void => {
    if (blasting) return;
    blasting = true;
    const until = Date.now() + 60_000;
    const pump = (): void => {
      for (let i = 0; i < 16; i++) {
        if (socket.destroyed || Date.now() > until) return;
        if (!socket.write(BLAST)) { socket.once('drain', pump); return; }
      }
      setImmediate(pump);
    };
    pump();
  };
  const scanner = new FrameScanner((type, flags, buf, start) => {
    if (type === PUBLISH) {
      if ((flags & 0x06) !== 0) acks.push(publishPacketId(buf, start));
    } else if (type === 1) {
      socket.write(Buffer.from([0x20, 0x02, 0x00, 0x00]));
    } else if (type === 8) {
      const id = buf.readUInt16BE(start);
      socket.write(Buffer.from([0x90, 0x03, id >> 8, id & 0xff, 0x00]));
      if (mode === 'blast') {
        waiting.push(blast);
        if (waiting.length === expected) for (const start of waiting) start();
      }
    } else if (type === 14) {
      socket.end();
    }
  });
  socket.on('data', (chunk: Buffer) => {
    scanner.push(chunk);
    if (acks.length > 0) {
      const out = Buffer.allocUnsafe(acks.length * 4);
      acks.forEach((id, i) => { out.writeUInt32BE(0x40020000 | id, i * 4); });
      socket.write(out);
      acks = [];
    }
  });
  socket.on('error', () => undefined);
}

const server = net.createServer(serve);
server.listen(Number(portArg), '127.0.0.1', () => console.log('READY'));
process.on('SIGTERM', () => process.exit(0));
