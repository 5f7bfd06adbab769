/**
 * The single entry point to @peculiar/x509 for Palisade. Import the library from here, never
 * directly: its DI container refuses to load unless the Reflect metadata API exists, and ES module
 * evaluation order (dependencies run in the order they are imported) guarantees the polyfill
 * below runs first.
 */
import './reflect-metadata.ts';

export * from '@peculiar/x509';
