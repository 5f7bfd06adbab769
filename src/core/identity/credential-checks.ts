/**
 * Whether a credential (a device password or token, an operator password) may be set at all
 * (issue 3, point 3). Refused, in this order:
 * - empty, or longer than 256 characters;
 * - a password of the Mirai botnet's scanner table (data/credentials/mirai-credentials.json);
 * - a password of the factory-default list (data/credentials/factory-defaults.json), pairs
 *   and bare passwords alike;
 * - a password equal to or containing the username or device id (or any other identifier the
 *   caller names), forwards or backwards; identifiers shorter than 3 characters only by equality;
 * - below the strength bar: fewer than 12 characters, or under 60 bits by
 *   estimateEntropyBits (credential-strength.ts; repeats, runs, keyboard walks, repeated blocks
 *   and deny-listed words inside the password are discounted).
 * List comparisons are case-insensitive (NFKC, lower case, surrounding spaces ignored) and
 * ignore the username: device ids are arbitrary, and botnets spray these passwords under every
 * name. Core reads no files, so the lists are passed in (src/store/credential-lists.ts loads
 * the shipped ones). Messages never repeat the secret.
 */
import { ErrorCodes, PalisadeError } from '../errors.ts';
import { estimateEntropyBits, strengthDictionary } from './credential-strength.ts';

export const CREDENTIAL_MIN_LENGTH = 12;
export const CREDENTIAL_MIN_BITS = 60;
export const CREDENTIAL_MAX_LENGTH = 256;
/** Identifiers shorter than this are checked by equality only: `contains "a"` would refuse everything. */
const MIN_CONTAINED_IDENTIFIER = 3;

export interface CredentialPair {
  username: string;
  password: string;
}

export interface CredentialLists {
  /** The Mirai scanner table. */
  mirai: readonly CredentialPair[];
  /** Factory-default username/password pairs. */
  factoryPairs: readonly CredentialPair[];
  /** Factory-default and very common bare passwords. */
  factoryPasswords: readonly string[];
}

export type CredentialProblemReason = 'empty' | 'too-long' | 'mirai' | 'factory-default' | 'contains-identifier' | 'too-short' | 'too-weak';

export interface CredentialProblem {
  reason: CredentialProblemReason;
  /** One line, never containing the secret: "it is on the Mirai botnet's credential list". */
  message: string;
  /** The strength estimate, when the check got that far. */
  estimatedBits?: number;
}

export interface CredentialInput {
  /** The login name: the device id for devices, the operator name for operators. */
  username?: string | null;
  secret: string;
  /** Other names the secret must not contain (a display name, an e-mail address). */
  identifiers?: readonly string[];
}

function normalize(s: string): string {
  return s.normalize('NFKC').trim().toLowerCase();
}

function reverse(s: string): string {
  return Array.from(s).reverse().join('');
}

export class CredentialChecker {
  readonly #mirai: ReadonlySet<string>;
  readonly #defaults: ReadonlySet<string>;
  readonly #dictionary: readonly (readonly string[])[];

  constructor(lists: CredentialLists) {
    this.#mirai = new Set(lists.mirai.map((p) => normalize(p.password)));
    this.#defaults = new Set([...lists.factoryPairs.map((p) => p.password), ...lists.factoryPasswords].map(normalize));
    this.#dictionary = strengthDictionary([...this.#mirai, ...this.#defaults]);
  }

  /** The first problem with this credential, or null when it may be set. */
  check(input: CredentialInput): CredentialProblem | null {
    const length = Array.from(input.secret).length;
    if (length === 0 || input.secret.trim() === '') return { reason: 'empty', message: 'it is empty' };
    if (length > CREDENTIAL_MAX_LENGTH) return { reason: 'too-long', message: `it is longer than ${CREDENTIAL_MAX_LENGTH} characters` };
    const n = normalize(input.secret);
    if (this.#mirai.has(n)) return { reason: 'mirai', message: "it is on the Mirai botnet's credential list" };
    if (this.#defaults.has(n)) return { reason: 'factory-default', message: 'it is a common factory-default password' };
    const names = [input.username ?? '', ...(input.identifiers ?? [])].map(normalize).filter((s) => s !== '');
    for (const name of names) {
      const contained = name.length >= MIN_CONTAINED_IDENTIFIER && (n.includes(name) || n.includes(reverse(name)));
      if (n === name || contained) return { reason: 'contains-identifier', message: 'it contains the username or device id' };
    }
    const estimatedBits = Math.floor(estimateEntropyBits(input.secret, this.#dictionary));
    if (length < CREDENTIAL_MIN_LENGTH) return { reason: 'too-short', message: `it has ${length} characters; at least ${CREDENTIAL_MIN_LENGTH} are required`, estimatedBits };
    if (estimatedBits < CREDENTIAL_MIN_BITS) {
      return { reason: 'too-weak', message: `its estimated strength is ${estimatedBits} bits; at least ${CREDENTIAL_MIN_BITS} are required (longer, without repeats, runs or common words)`, estimatedBits };
    }
    return null;
  }

  /** Throws CREDENTIAL_REFUSED ("<label> refused: <why>") when check() finds a problem. */
  assert(input: CredentialInput, label = 'password'): void {
    const problem = this.check(input);
    if (problem) throw credentialRefused(problem, label);
  }
}

export function credentialRefused(problem: CredentialProblem, label = 'password'): PalisadeError {
  return new PalisadeError(ErrorCodes.CREDENTIAL_REFUSED, `${label} refused: ${problem.message}`, { detail: { reason: problem.reason, ...(problem.estimatedBits === undefined ? {} : { estimatedBits: problem.estimatedBits }) } });
}

const checkers = new WeakMap<CredentialLists, CredentialChecker>();

/** check() with a checker built once per lists object. */
export function checkCredential(input: CredentialInput, lists: CredentialLists): CredentialProblem | null {
  let checker = checkers.get(lists);
  if (!checker) {
    checker = new CredentialChecker(lists);
    checkers.set(lists, checker);
  }
  return checker.check(input);
}
