/**
 * The kernel-side ban filter (issue 5, point 8; src/shield/kernel-filter): the compiled classic
 * BPF program is checked two ways — run by a small interpreter written here against core's
 * cidrContains on random bans and packets (fast-check), and loaded into the real kernel on real
 * listening sockets, where a banned source's SYN must get no answer while others connect.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cidrContains, parseCidr, parseIp } from '../../src/core/policy/cidr.ts';
import type { Store } from '../../src/core/ports.ts';
import { StoreBanList } from '../../src/shield/bans/ban-list.ts';
import { compileBanFilter, MAX_INSTRUCTIONS } from '../../src/shield/kernel-filter/bpf.ts';
import { KernelBanFilter, loadSockFilterAddon, listeningFd } from '../../src/shield/kernel-filter/listener-filter.ts';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';

// ---------------------------------------------------------------------------------------------
// A classic BPF interpreter for the opcodes the compiler emits (Documentation/networking/filter.rst).
// Packets are given from the network header on, so SKF_NET_OFF + k reads byte k.
// ---------------------------------------------------------------------------------------------
const NET = -0x100000;

function run(program: Uint8Array, packet: Uint8Array): number {
  const view = new DataView(program.buffer, program.byteOffset, program.byteLength);
  const le = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  const at = (k: number): number => (k | 0) - NET;
  let a = 0;
  let x = 0;
  for (let pc = 0, steps = 0; steps < 10_000; steps++) {
    const code = view.getUint16(pc * 8, le);
    const jt = view.getUint8(pc * 8 + 2);
    const jf = view.getUint8(pc * 8 + 3);
    const k = view.getUint32(pc * 8 + 4, le);
    pc++;
    switch (code) {
      case 0x20: a = new DataView(packet.buffer, packet.byteOffset).getUint32(at(k)); break;
      case 0x30: a = packet[at(k)]!; break;
      case 0x50: a = packet[at(k) + x]!; break;
      case 0xb1: x = 4 * (packet[at(k)]! & 0xf); break;
      case 0x54: a = (a & k) >>> 0; break;
      case 0x74: a = a >>> k; break;
      case 0x05: pc += k; break;
      case 0x15: pc += a === k ? jt : jf; break;
      case 0x45: pc += (a & k) !== 0 ? jt : jf; break;
      case 0x06: return k;
      default: throw new Error(`opcode ${code.toString(16)} not interpreted`);
    }
  }
  throw new Error('program did not return');
}

/** An IPv4 or IPv6 header followed by a TCP header with the given flags. */
function packet(source: Uint8Array, flags: number, v4: boolean, ipOptions = 0): Uint8Array {
  if (v4) {
    const ihl = 5 + ipOptions;
    const p = new Uint8Array(ihl * 4 + 20);
    p[0] = 0x40 | ihl;
    p.set(source.subarray(12), 12);
    p[ihl * 4 + 13] = flags;
    return p;
  }
  const p = new Uint8Array(40 + 20);
  p[0] = 0x60;
  p.set(source, 8);
  p[40 + 13] = flags;
  return p;
}

const SYN = 0x02;
const ACK = 0x10;
const KEEP = 0xffff_ffff;

const v4Text = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join('.'));
const v6Text = fc.array(fc.nat(0xffff), { minLength: 8, maxLength: 8 }).map((w) => w.map((n) => n.toString(16)).join(':'));
const v4Address = fc.oneof(v4Text, fc.constantFrom('127.0.0.2', '10.1.2.3', '192.0.2.7'));
const v6Address = fc.oneof(v6Text, fc.constantFrom('::1', '2001:db8::7', 'fe80::1'));
const banText = fc.oneof(
  v4Address,
  fc.tuple(v4Address, fc.integer({ min: 0, max: 32 })).map(([a, b]) => `${a}/${b}`),
  v6Address,
  fc.tuple(v6Address, fc.integer({ min: 0, max: 128 })).map(([a, b]) => `${a}/${b}`),
);

describe('compileBanFilter, interpreted', () => {
  it('drops a SYN exactly when some ban contains the source (IPv4 and IPv6, any prefix)', () => {
    fc.assert(
      fc.property(fc.array(banText, { maxLength: 12 }), fc.oneof(v4Address, v6Address), fc.boolean(), (bans, source, ipOptions) => {
        const cidrs = bans.map((b) => parseCidr(b)!);
        const address = parseIp(source)!;
        const v4 = source.includes('.');
        const expected = cidrs.some((c) => cidrContains(c, address));
        const { program } = compileBanFilter(bans);
        expect(run(program, packet(address, SYN, v4, ipOptions ? 2 : 0))).toBe(expected ? 0 : KEEP);
        // Segments other than a bare SYN are never dropped, banned or not.
        expect(run(program, packet(address, SYN | ACK, v4))).toBe(KEEP);
        expect(run(program, packet(address, ACK, v4))).toBe(KEEP);
      }),
      { numRuns: 500 },
    );
  });

  it('keeps everything with no address bans, in one instruction', () => {
    const f = compileBanFilter([]);
    expect(f.instructions).toBe(1);
    expect(run(f.program, packet(parseIp('10.0.0.1')!, SYN, true))).toBe(KEEP);
  });

  it('stays within the kernel limit and says how many bans it left to user space', () => {
    const many = Array.from({ length: 3000 }, (_, i) => `10.${(i >> 8) & 255}.${i & 255}.1`);
    const f = compileBanFilter(many);
    expect(f.instructions).toBeLessThanOrEqual(MAX_INSTRUCTIONS);
    expect(f.omitted).toBeGreaterThan(0);
    expect(f.included + f.omitted).toBe(3000);
    // The first bans (by prefix, then as given) are in; a late one is not.
    expect(run(f.program, packet(parseIp('10.0.0.1')!, SYN, true))).toBe(0);
    expect(run(f.program, packet(parseIp('10.11.183.1')!, SYN, true))).toBe(KEEP);
  });
});

// ---------------------------------------------------------------------------------------------
// The real kernel
// ---------------------------------------------------------------------------------------------
const addon = loadSockFilterAddon();

/** 'answered' when the server's greeting arrived, 'silent' when the SYN got no answer in time. */
function attempt(port: number, localAddress: string, host = '127.0.0.1', waitMs = 400): Promise<'answered' | 'silent' | 'refused'> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port, localAddress });
    const timer = setTimeout(() => {
      s.destroy();
      resolve('silent');
    }, waitMs);
    s.once('data', () => {
      clearTimeout(timer);
      s.destroy();
      resolve('answered');
    });
    s.once('error', () => {
      clearTimeout(timer);
      resolve('refused');
    });
  });
}

async function greetingServer(host: string): Promise<{ server: net.Server; port: number }> {
  const server = net.createServer((s) => s.end('hello'));
  await new Promise<void>((resolve) => server.listen({ host, port: 0 }, resolve));
  return { server, port: (server.address() as net.AddressInfo).port };
}

describe.skipIf(addon === null)('the filter in the kernel (native/sock-filter)', () => {
  it.each(['127.0.0.1', '::'])('on a listener bound to %s, banned sources get no answer and others connect', async (host) => {
    const { server, port } = await greetingServer(host);
    try {
      addon!.attach(listeningFd(server)!, compileBanFilter(['127.0.0.2', '127.0.0.8/30', '2001:db8::/32']).program);
      expect(await attempt(port, '127.0.0.2')).toBe('silent');
      expect(await attempt(port, '127.0.0.9')).toBe('silent');
      expect(await attempt(port, '127.0.0.3')).toBe('answered');
      expect(await attempt(port, '127.0.0.12')).toBe('answered');
      expect(await attempt(port, '127.0.0.1')).toBe('answered');
      if (host === '::') expect(await attempt(port, '::1', '::1')).toBe('answered');
      addon!.detach(listeningFd(server)!);
      expect(await attempt(port, '127.0.0.2')).toBe('answered');
    } finally {
      server.close();
    }
  });

  it('filters IPv6 sources', async () => {
    const { server, port } = await greetingServer('::1');
    try {
      addon!.attach(listeningFd(server)!, compileBanFilter(['::1']).program);
      expect(await attempt(port, '::1', '::1')).toBe('silent');
      addon!.attach(listeningFd(server)!, compileBanFilter(['::2']).program);
      expect(await attempt(port, '::1', '::1')).toBe('answered');
    } finally {
      server.close();
    }
  });

  it('leaves an established connection alone when its address is banned later', async () => {
    const server = net.createServer((s) => s.on('data', (d) => s.write(d)));
    await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
    const port = (server.address() as net.AddressInfo).port;
    const client = net.connect({ host: '127.0.0.1', port, localAddress: '127.0.0.2' });
    try {
      await new Promise((resolve) => client.once('connect', resolve));
      addon!.attach(listeningFd(server)!, compileBanFilter(['127.0.0.2']).program);
      client.write('ping');
      const echoed = await new Promise<string>((resolve) => client.once('data', (d) => resolve(d.toString())));
      expect(echoed).toBe('ping');
    } finally {
      client.destroy();
      server.close();
    }
  });

  it('rejects a program the kernel cannot load, with a readable error, keeping the old filter', async () => {
    const { server, port } = await greetingServer('127.0.0.1');
    try {
      const fd = listeningFd(server)!;
      addon!.attach(fd, compileBanFilter(['127.0.0.2']).program);
      // A jump past the end of the program: the kernel's checker refuses it.
      const bad = new Uint8Array(8);
      new DataView(bad.buffer).setUint16(0, 0x05, true);
      new DataView(bad.buffer).setUint32(4, 10, true);
      expect(() => addon!.attach(fd, bad)).toThrow(/SO_ATTACH_FILTER/);
      expect(() => addon!.attach(fd, new Uint8Array(7))).toThrow(/sock_filter/);
      expect(await attempt(port, '127.0.0.2')).toBe('silent');
    } finally {
      server.close();
    }
  });

  describe('KernelBanFilter follows the ban list in the store', () => {
    let dir: string;
    let store: Store;
    let bans: StoreBanList;
    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'palisade-kfilter-'));
      store = await openSqliteStore(join(dir, 'palisade.db'));
      bans = new StoreBanList(store.bans, { reloadMs: 20 });
      await bans.start();
    });
    afterAll(async () => {
      bans.stop();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('applies a ban at once, another process\'s ban within the poll, and lifts removed and expired bans', async () => {
      const { server, port } = await greetingServer('127.0.0.1');
      const filter = new KernelBanFilter({ bans, checkMs: 50 });
      try {
        expect(filter.available).toBe(true);
        expect(filter.attach(server)).toBe(true);
        filter.start();
        const ban = await bans.add({ kind: 'address', value: '127.0.0.2', reason: 'test', expiresAt: null, by: 'test' });
        expect(await attempt(port, '127.0.0.2')).toBe('silent');
        expect(await attempt(port, '127.0.0.3')).toBe('answered');
        // Written straight to the store, as the CLI in another process does.
        const expiresAt = Date.now() + 3000;
        await store.bans.add({ kind: 'address', value: '127.0.0.3', reason: 'cli', expiresAt, by: 'cli:test', createdAt: Date.now() });
        await expect.poll(() => attempt(port, '127.0.0.3', '127.0.0.1', 300), { timeout: 2500, interval: 20 }).toBe('silent');
        // Expiry emits nothing; the periodic check recompiles.
        await new Promise((r) => setTimeout(r, Math.max(0, expiresAt - Date.now())));
        await expect.poll(() => attempt(port, '127.0.0.3'), { timeout: 3000, interval: 50 }).toBe('answered');
        await bans.remove(ban.id);
        await expect.poll(() => attempt(port, '127.0.0.2'), { timeout: 3000, interval: 50 }).toBe('answered');
        expect(filter.current.included).toBe(0);
      } finally {
        filter.stop();
        server.close();
      }
    });
  });
});
