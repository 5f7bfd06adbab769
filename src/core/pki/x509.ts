/**
 * The single entry point to @peculiar/x509 for Palisade. Import the library from here, never
 * directly: its dependency injection (tsyringe) refuses to load unless the Reflect metadata API
 * exists, and ES module evaluation order runs the polyfill import first.
 */
import 'reflect-metadata';

export * from '@peculiar/x509';
