import { defineConfig } from 'vitest/config';

// Two tiers (DESIGN.md §4.8): `unit` runs in process and on loopback sockets with no external
// peer; `interop` drives real peers (MQTT.js, mosquitto_pub/sub, openssl) against a real gateway.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          // --expose-gc lets the backpressure test measure retained memory, not garbage.
          execArgv: ['--expose-gc'],
          include: ['src/**/*.test.ts', 'test/unit/**/*.test.ts', 'test/contract/**/*.test.ts'],
          testTimeout: 20_000,
          hookTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'interop',
          include: ['test/interop/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
