/**
 * SQL-injection detector entry point (issue 5, point 3). First simple version: a keyword/structure
 * check; replaced by the tokenizing libinjection-style detector (tokenize, fold, fingerprint).
 */
import type { DetectorResult } from '../types.ts';

const QUICK = /(\bunion\b[\s\S]{0,40}\bselect\b)|('\s*(or|and)\s+['"\d])|(\b(sleep|benchmark|waitfor)\s*\()|(;\s*(drop|delete|insert|update|shutdown)\b)/i;

export function detectSqli(input: string): DetectorResult {
  const m = QUICK.exec(input);
  return m ? { detected: true, fingerprint: 'pre' } : { detected: false };
}
