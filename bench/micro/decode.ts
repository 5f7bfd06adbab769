/**
 * Micro-benchmark behind the fan-in analysis in BENCHMARKS.md: CPU per inbound PUBLISH for
 * mqtt-packet's streaming parser (fed one framed packet at a time) against the direct decode
 * Palisade's connection now uses on the 3.1.1 hot path (src/protocols/mqtt/fast-decode.ts), and
 * per PUBACK for `generate` against the 4-byte literal encoder there. Single thread, no I/O; bounded by count and time.
 *
 * Usage: node bench/micro/decode.ts [packets=200000]
 */
import { generate, parser, type Packet } from 'mqtt-packet';
import { decodeFast, encodePuback } from '../../src/protocols/mqtt/fast-decode.ts';

const N = Number(process.argv[2] ?? 200_000);
const MAX_MS = 20_000;

const frames: Buffer[] = [];
for (let i = 0; i < 1000; i++) {
  frames.push(generate({ cmd: 'publish', topic: `bench/${i % 10}/t`, qos: 1, messageId: (i % 65535) + 1, dup: false, retain: false, payload: Buffer.alloc(32, 0x61) }));
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
bench('direct decode PUBLISH (fast-decode.ts)', (i) => decodeFast(frames[i % 1000]!, 4));
bench('mqtt-packet generate PUBACK', (i) => generate({ cmd: 'puback', messageId: (i % 65535) + 1 }));
bench('literal PUBACK (fast-decode.ts)', (i) => encodePuback((i % 65535) + 1));
