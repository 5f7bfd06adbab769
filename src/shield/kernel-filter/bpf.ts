/**
 * Compiles address bans into a classic BPF socket filter for a listening TCP socket (Linux
 * SO_ATTACH_FILTER; Documentation/networking/filter.rst). The kernel runs it on every segment
 * that reaches the listener (and, inherited, its accepted sockets); it returns 0 (drop) for a
 * SYN without ACK from a banned address and "keep everything" otherwise, so a banned peer's
 * connection attempt dies in the kernel before a request socket, a handshake or a wake-up of
 * Node. Other segments skip the address scan, so established connections pay two loads and two
 * tests per segment.
 *
 * Addresses are read through the network-header offset SKF_NET_OFF, so the program does not
 * depend on where the socket layer has pulled the packet to, and it works on an IPv6 socket
 * that also accepts IPv4 (dual stack: those SYNs arrive as IPv4 packets). IPv6 extension
 * headers are not walked: with one present the TCP flags are misread, which at worst scans a
 * non-SYN segment — harmless, as every packet from a banned address may be dropped.
 *
 * Jumps in classic BPF are forward only and 8 bits long, so every rule is written as
 * `jeq value, 0, 1; ret 0` (a hit falls into the drop just below it) and the long branches use
 * `ja`, which takes a 32-bit offset. Rules past the kernel's 4096-instruction limit are left out
 * and reported; the user-space check at accept still refuses them.
 */
import { cidrContains, isIpv4Mapped, parseCidr, parseIp } from '../../core/policy/cidr.ts';

/** struct sock_filter { u16 code; u8 jt; u8 jf; u32 k; } */
interface Insn {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

// linux/bpf_common.h and linux/filter.h
const LD_W_ABS = 0x20;
const LD_B_ABS = 0x30;
const LD_B_IND = 0x50;
const LDX_B_MSH = 0xb1;
const ALU_AND_K = 0x54;
const ALU_RSH_K = 0x74;
const JMP_JA = 0x05;
const JMP_JEQ_K = 0x15;
const JMP_JSET_K = 0x45;
const RET_K = 0x06;
/** SKF_NET_OFF (-0x100000): offsets from the network header. */
const NET = -0x100000;
const KEEP = 0xffff_ffff;
const DROP = 0;
const TCP_SYN = 0x02;
const TCP_ACK = 0x10;
/** BPF_MAXINSNS */
export const MAX_INSTRUCTIONS = 4096;

export interface CompiledFilter {
  /** n × 8 bytes in host byte order, ready for SO_ATTACH_FILTER. */
  program: Uint8Array;
  instructions: number;
  /** Bans compiled in, and those left to the user-space check (not an address, or over the limit). */
  included: number;
  omitted: number;
}

const op = (code: number, k = 0, jt = 0, jf = 0): Insn => ({ code, jt, jf, k: k >>> 0 });

interface Rule {
  v4: boolean;
  /** IPv4: one word; IPv6: four words, network byte order as numbers. */
  words: number[];
  /** Prefix length within the family (0..32 or 0..128). */
  bits: number;
}

/** IPv4 addresses live in the IPv4-mapped block (core/policy/cidr.ts, RFC 4291 §2.5.5.2). */
const V4_MAPPED = parseIp('::ffff:0.0.0.0')!;

/** The rules for one ban; null when it is not an address. A short IPv6 prefix that covers the IPv4-mapped block bans every IPv4 source too. */
function toRules(text: string): Rule[] | null {
  const c = parseCidr(text);
  if (c === null) return null;
  const n = c.network;
  const word = (i: number): number => ((n[i]! << 24) | (n[i + 1]! << 16) | (n[i + 2]! << 8) | n[i + 3]!) >>> 0;
  if (c.bits >= 96 && isIpv4Mapped(n)) return [{ v4: true, words: [word(12)], bits: c.bits - 96 }];
  const v6: Rule = { v4: false, words: [word(0), word(4), word(8), word(12)], bits: c.bits };
  return cidrContains(c, V4_MAPPED) ? [v6, { v4: true, words: [0], bits: 0 }] : [v6];
}

function mask(bits: number): number {
  return bits <= 0 ? 0 : bits >= 32 ? 0xffff_ffff : (0xffff_ffff << (32 - bits)) >>> 0;
}

/** One rule: drop when the source matches; `base` is the source's offset from the network header. */
function ruleInsns(rule: Rule, base: number): Insn[] {
  const out: Insn[] = [];
  // Words fully or partly inside the prefix; a /0 matches everything.
  const words = Math.ceil(rule.bits / 32);
  if (words === 0) return [op(RET_K, DROP)];
  const tests: Insn[][] = [];
  for (let i = 0; i < words; i++) {
    const m = mask(rule.bits - 32 * i);
    const t = [op(LD_W_ABS, NET + base + 4 * i)];
    if (m !== 0xffff_ffff) t.push(op(ALU_AND_K, m));
    t.push(op(JMP_JEQ_K, (rule.words[i]! & m) >>> 0));
    tests.push(t);
  }
  // A miss on any word jumps past this rule's drop; jf counts instructions after the jump.
  const total = tests.reduce((s, t) => s + t.length, 0);
  let emitted = 0;
  for (const t of tests) {
    emitted += t.length;
    const jeq = t[t.length - 1]!;
    jeq.jf = total - emitted + 1; // skip the remaining tests and the drop
    out.push(...t);
  }
  out.push(op(RET_K, DROP));
  return out;
}

/**
 * The filter for a set of address bans (as stored: `192.0.2.7`, `10.0.0.0/8`, `2001:db8::/32`).
 * With no address bans the program keeps everything (one instruction).
 */
export function compileBanFilter(addresses: readonly string[]): CompiledFilter {
  const parsed = addresses.map(toRules);
  const rules = parsed.flatMap((r) => r ?? []);
  const v4 = rules.filter((r) => r.v4).sort((a, b) => a.bits - b.bits);
  const v6 = rules.filter((r) => !r.v4).sort((a, b) => a.bits - b.bits);
  let omitted = parsed.filter((r) => r === null).length;
  if (v4.length === 0 && v6.length === 0) return finish([op(RET_K, KEEP)], 0, omitted);

  // Budget: header 9, each family's flag checks 5 and tail 1.
  let budget = MAX_INSTRUCTIONS - 9 - 12;
  const take = (list: Rule[], base: number): Insn[] => {
    const out: Insn[] = [];
    for (const r of list) {
      const insns = ruleInsns(r, base);
      if (insns.length > budget) {
        omitted++;
        continue;
      }
      budget -= insns.length;
      out.push(...insns);
    }
    return out;
  };
  const v4Rules = take(v4, 12); // IPv4 source at 12 (RFC 791)
  const v6Rules = take(v6, 8); // IPv6 source at 8 (RFC 8200)

  // Per family: SYN without ACK? else keep. A = flags byte.
  const synOnly = (): Insn[] => [op(JMP_JSET_K, TCP_ACK, 0, 1), op(RET_K, KEEP), op(JMP_JSET_K, TCP_SYN, 1, 0), op(RET_K, KEEP)];
  const v4Block = [
    op(LDX_B_MSH, NET), // X = 4 × IHL
    op(LD_B_IND, NET + 13), // TCP flags (RFC 9293 §3.1)
    ...synOnly(),
    ...v4Rules,
    op(RET_K, KEEP),
  ];
  const v6Block = [op(LD_B_ABS, NET + 40 + 13), ...synOnly(), ...v6Rules, op(RET_K, KEEP)];
  const head = [
    op(LD_B_ABS, NET), // version nibble
    op(ALU_RSH_K, 4),
    op(JMP_JEQ_K, 4, 0, 1),
    op(JMP_JA, 3), // → v4 block (after the 3 instructions below)
    op(JMP_JEQ_K, 6, 0, 1),
    op(JMP_JA, 1 + v4Block.length), // → v6 block
    op(RET_K, KEEP),
  ];
  const insns = [...head, ...v4Block, ...v6Block];
  return finish(insns, addresses.length - omitted, omitted);
}

function finish(insns: Insn[], included: number, omitted: number): CompiledFilter {
  const program = new Uint8Array(insns.length * 8);
  const view = new DataView(program.buffer);
  const le = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  insns.forEach((insn, i) => {
    view.setUint16(i * 8, insn.code, le);
    view.setUint8(i * 8 + 2, insn.jt);
    view.setUint8(i * 8 + 3, insn.jf);
    view.setUint32(i * 8 + 4, insn.k >>> 0, le);
  });
  return { program, instructions: insns.length, included, omitted };
}
