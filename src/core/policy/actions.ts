/** The one catalogue of actions that policy decides on (DESIGN.md §1). */
export const Actions = {
  mqttConnect: 'mqtt:connect',
  mqttPublish: 'mqtt:publish',
  mqttSubscribe: 'mqtt:subscribe',
  mqttReceive: 'mqtt:receive',
} as const;

export type Action = (typeof Actions)[keyof typeof Actions];
