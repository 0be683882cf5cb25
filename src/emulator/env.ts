import Type from 'typebox'

// `npm run emulator`'s settings, apart from its entry point so the configuration reference can read them.
export const EmulatorEnv = Type.Object({
  HOST: Type.String({ minLength: 1, default: '127.0.0.1', description: 'Where the emulator listens' }),
  PORT: Type.Integer({ minimum: 0, maximum: 65_535, default: 10002, description: 'Its port (0 picks a free port)' }),
  OPENIM_EMULATOR_MODE: Type.Union([Type.Literal('current'), Type.Literal('v3.8.0'), Type.Literal('legacy')], {
    default: 'current',
    description: 'The OpenIM it behaves like (see [The OpenIM emulator](../guides/emulator.md)); `npm run demo` reads it too'
  }),
  OPENIM_EMULATOR_LATENCY_MS: Type.Integer({
    minimum: 0,
    maximum: 60_000,
    default: 0,
    description: 'Milliseconds it waits before answering each call, to try the gateway against a slower OpenIM'
  }),
  // A deliberately wrong clock, to see what a skewed OpenIM looks like (npm run doctor reports it).
  OPENIM_EMULATOR_CLOCK_SKEW_SECONDS: Type.Integer({
    minimum: -86_400,
    maximum: 86_400,
    default: 0,
    description: 'Its clock off this host\'s, to see what `npm run doctor` says about a skewed OpenIM'
  }),
  OPENIM_SECRET: Type.Optional(Type.String({ minLength: 1, description: 'Default: a random secret, printed. The secret it accepts' })),
  OPENIM_ADMIN_USER_ID: Type.String({ minLength: 1, default: 'imAdmin', description: 'The admin account it accepts' })
})
