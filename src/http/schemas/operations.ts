import Type from 'typebox'

// /healthz and /readyz answer in shapes of their own, not in the Error shape: probes read them.
export const HealthResponse = Type.Object({ status: Type.Literal('ok') })

const dependencyState = (what: string) => Type.Union(
  [Type.Literal('ok'), Type.Literal('unreachable'), Type.Literal('degraded'), Type.Literal('unconfigured')],
  {
    description: `${what} as this replica sees it: ok, unreachable (no answer), degraded (answers but does not serve ` +
      'the gateway) or unconfigured.'
  }
)

export const ReadinessResponse = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('not_ready')]),
  reason: Type.Optional(Type.Union([
    Type.Literal('shutting_down'),
    Type.Literal('openim_unreachable'), Type.Literal('openim_auth_failed'), Type.Literal('openim_timeout'),
    Type.Literal('openim_bad_response'), Type.Literal('openim_rejected'), Type.Literal('gateway_overloaded')
  ], {
    description: 'Why the replica should get no traffic (503 only): shutting_down; the openim_* reasons and ' +
      'gateway_overloaded only with READINESS_REQUIRES_OPENIM=true.'
  })),
  message: Type.Optional(Type.String()),
  openim: Type.Optional(dependencyState('OpenIM (an admin call, cached READINESS_CACHE_MS)')),
  redis: Type.Optional(dependencyState('Redis (the circuit breaker\'s state; unconfigured without a Redis setting)'))
})
