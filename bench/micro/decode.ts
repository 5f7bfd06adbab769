/**
 * Micro-benchmark behind the fan-in analysis in BENCHMARKS.md: CPU per inbound PUBLISH for
 * mqtt-packet's streaming parser (fed one framed packet at a time, as Palisade's connection does)
 * against a direct decode of the same frame, and per PUBACK for `generate` against a 4-byte
 * literal. Single thread, no I/O; bounded by count and time.
 *
 * Usage: node bench/micro/decode.ts [packets=200000]
 */
import { generate, parser, type Packet } from 'mqtt-packet';

const N = Number(process.argv[2] ?? 200_000);
const MAX_MS = 20_000;

const frames: Buffer[] = [];
for (let i = 0; i < 1000; i++) {
  frames.push(generate({ cmd: 'publish', topic: `bench/${i % 10}/t`, qos: 1, messageId: (i % 65535) + 1, dup: false, retain: false, payload: Buffer.alloc(32, 0x61) }));
}

interface Decoded {
  topic: string;
  qos: number;
  messageId: number;
  payload: Buffer;
}

/** What a connection needs from a v3.1.1 PUBLISH frame, read straight from the bytes. */
function decodePublish(f: Buffer): Decoded {
  let pos = 1;
  let len = 0;
  let mult = 1;
  for (;;) {
    const b = f[pos++]!;
    len += (b & 0x7f) * mult;
    if ((b & 0x80) === 0) break;
    mult *= 128;
  }
  const end = pos + len;
  const qos = (f[0]! >> 1) & 3;
  const topicLen = f.readUInt16BE(pos);
  const topic = f.toString('utf8', pos + 2, pos + 2 + topicLen);
  pos += 2 + topicLen;
  const messageId = qos > 0 ? f.readUInt16BE(pos) : 0;
  if (qos > 0) pos += 2;
  return { topic, qos, messageId, payload: f.subarray(pos, end) };
}

function bench(name: string, fn: (i: number) => unknown): void {
  for (let i = 0; i < 20_000; i++) fn(i); // warm-up
  const t0 = performance.now();
  let done = 0;
  let results = 0;
  while (done < N && performance.now() - t0 < MAX_MS) {
    for (let k = 0; k < 1000; k++, done++) if (fn(done) !== undefined) results++;
  }
  const ns = ((performance.now() - t0) * 1e6) / done;
  console.log(`${name.padEnd(44)} ${ns.toFixed(0).padStart(6)} ns/packet  (${done} packets, ${results} results)`);
}

const p = parser({ protocolVersion: 4 });
let last: Packet | undefined;
p.on('packet', (pk: Packet) => { last = pk; });
bench('mqtt-packet parser.parse(frame) PUBLISH', (i) => { p.parse(frames[i % 1000]!); return last; });
bench('direct decode PUBLISH', (i) => decodePublish(frames[i % 1000]!));
bench('mqtt-packet generate PUBACK', (i) => generate({ cmd: 'puback', messageId: (i % 65535) + 1 }));
bench('literal PUBACK (4-byte Buffer)', (i) => { const id = (i % 65535) + 1; return Buffer.from([0x40, 0x02, id >> 8, id & 0xff]); });
