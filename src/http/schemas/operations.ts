import Type from 'typebox'

// /healthz and /readyz answer in shapes of their own, not in the Error shape: probes read them.
export const HealthResponse = Type.Object({ status: Type.Literal('ok') })

export const ReadinessResponse = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('not_ready')]),
  reason: Type.Optional(Type.Union([
    Type.Literal('openim_unreachable'), Type.Literal('openim_auth_failed'), Type.Literal('openim_timeout'),
    Type.Literal('openim_bad_response'), Type.Literal('openim_rejected'), Type.Literal('gateway_overloaded')
  ], { description: 'Why the gateway cannot serve (503 only).' })),
  message: Type.Optional(Type.String())
})
