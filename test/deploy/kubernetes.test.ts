import { readFileSync, readdirSync } from 'node:fs'
import t from 'tap'
import { parseAllDocuments } from 'yaml'
import { buildGateway, gatewayConfig, startOpenIm } from '../helper.js'

const dir = new URL('../../deploy/kubernetes/', import.meta.url).pathname
const manifests = readdirSync(dir).filter((file) => file.endsWith('.yaml')).flatMap((file) =>
  parseAllDocuments(readFileSync(dir + file, 'utf8')).map((document) => document.toJS()))
const byKind = (kind: string) => manifests.filter((manifest) => manifest.kind === kind)
const deployment = byKind('Deployment')[0]
const pod = deployment.spec.template.spec
const container = pod.containers[0]

t.test('every manifest parses and has a kind, a name and the app label', async (t) => {
  t.same(byKind('Kustomization').length, 1)
  for (const manifest of manifests.filter((m) => m.kind !== 'Kustomization')) {
    t.equal(manifest.metadata.name, 'openim-gateway', manifest.kind)
    t.equal(manifest.metadata.labels['app.kubernetes.io/name'], 'openim-gateway', manifest.kind)
  }
  const listed = byKind('Kustomization')[0].resources as string[]
  t.same(listed.sort(), readdirSync(dir).filter((file) => file.endsWith('.yaml') && file !== 'kustomization.yaml').sort())
})

t.test('Deployment: 2+ replicas, probes on /healthz and /readyz, resources, non-root', async (t) => {
  t.ok(deployment.spec.replicas >= 2)
  t.equal(container.livenessProbe.httpGet.path, '/healthz')
  t.equal(container.readinessProbe.httpGet.path, '/readyz')
  t.equal(container.ports[0].containerPort, 3000)
  for (const kind of ['requests', 'limits']) for (const resource of ['cpu', 'memory']) t.ok(container.resources[kind][resource], `${kind}.${resource}`)
  t.equal(pod.securityContext.runAsNonRoot, true)
  t.equal(pod.securityContext.runAsUser, 1000, 'the node user of the image')
  t.equal(container.securityContext.allowPrivilegeEscalation, false)
  t.equal(container.securityContext.readOnlyRootFilesystem, true)
  t.same(container.securityContext.capabilities.drop, ['ALL'])
  t.ok(pod.terminationGracePeriodSeconds * 1000 > 10_000 + 5000, 'grace period outlasts SHUTDOWN_TIMEOUT_MS and preStop')
})

t.test('pods carry the prometheus.io scrape annotations, on the metrics port, as the Service does', async (t) => {
  const metricsPort = (container.ports as Array<{ name: string, containerPort: number }>).find((port) => port.name === 'metrics')?.containerPort
  const expected = { 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(metricsPort), 'prometheus.io/path': '/metrics' }
  t.same(deployment.spec.template.metadata.annotations, expected)
  t.equal(byKind('ConfigMap')[0].data.METRICS_PORT, String(metricsPort))
  const onService = Object.keys(byKind('Service')[0].metadata.annotations ?? {}).filter((key) => key.startsWith('prometheus.io/'))
  t.same(onService, [], 'not on the Service too: pod and endpoint discovery would scrape every replica twice')
})

t.test('the secret comes from a Secret, the rest from the ConfigMap', async (t) => {
  const fromSecret = Object.fromEntries((container.env as any[]).map((entry) => [entry.name, entry.valueFrom?.secretKeyRef?.name]))
  t.equal(fromSecret.OPENIM_SECRET, 'openim-gateway')
  t.equal(fromSecret.GATEWAY_API_KEYS, 'openim-gateway')
  const optional = Object.fromEntries((container.env as any[]).map((entry) => [entry.name, entry.valueFrom?.secretKeyRef?.optional === true]))
  t.same([optional.OPENIM_SECRET, optional.GATEWAY_API_KEYS], [false, true], 'a JWT-only deployment needs no API key; never without the secret')
  t.same(container.envFrom, [{ configMapRef: { name: 'openim-gateway' } }])
  const configMap = byKind('ConfigMap')[0]
  t.equal(configMap.data.OPENIM_API_URL, 'http://openim-server:10002')
  for (const key of Object.keys(configMap.data)) t.notMatch(key, /SECRET|API_KEYS|PASSWORD/, `${key} is not secret`)
  t.ok(Object.values(configMap.data).every((value) => typeof value === 'string'), 'ConfigMap values are strings')
})

t.test('the public URLs and CORS origins are left empty (unset) for the operator: no placeholder goes live', async (t) => {
  const configMap = byKind('ConfigMap')[0]
  for (const name of ['OPENIM_PUBLIC_API_URL', 'OPENIM_PUBLIC_WS_URL', 'CORS_ORIGINS']) t.equal(configMap.data[name], '', name)
  t.notOk(Object.values(configMap.data).some((value) => /example\.(com|org|net)/.test(value as string)), 'no example domain in a value')
  const config = gatewayConfig('http://127.0.0.1:1', configMap.data)
  t.same([config.publicApiUrl, config.publicWsUrl, config.corsOrigins], [undefined, undefined, []], 'the gateway reads empty as unset')
})

t.test('selectors match the pod labels: Service, PodDisruptionBudget, HorizontalPodAutoscaler', async (t) => {
  const podLabels = deployment.spec.template.metadata.labels
  const matches = (selector: Record<string, string>) => Object.entries(selector).every(([key, value]) => podLabels[key] === value)
  t.ok(matches(deployment.spec.selector.matchLabels), 'Deployment')
  const service = byKind('Service')[0]
  t.ok(matches(service.spec.selector), 'Service')
  t.equal(service.spec.ports[0].targetPort, 'http')
  t.ok(matches(byKind('PodDisruptionBudget')[0].spec.selector.matchLabels), 'PodDisruptionBudget')
  const hpa = byKind('HorizontalPodAutoscaler')[0]
  t.same(hpa.spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: deployment.metadata.name })
  t.ok(hpa.spec.minReplicas >= 2)
  t.ok(hpa.spec.maxReplicas > hpa.spec.minReplicas)
})

t.test('metrics: served on their own named port, reachable through the Service, never on the API port', async (t) => {
  const configMap = byKind('ConfigMap')[0]
  const service = byKind('Service')[0]
  const metricsPort = (container.ports as any[]).find((port) => port.name === 'metrics')
  t.equal(String(metricsPort?.containerPort), configMap.data.METRICS_PORT, 'the container port is METRICS_PORT')
  t.not(configMap.data.METRICS_PORT, String(container.ports[0].containerPort))
  const servicePort = (service.spec.ports as any[]).find((port) => port.name === 'metrics')
  t.equal(servicePort?.targetPort, 'metrics')
})

t.test('an optional ServiceMonitor, in its own kustomization, scrapes the Service\'s port named "metrics"', async (t) => {
  const monitoringDir = `${dir}monitoring/`
  const monitoring = readdirSync(monitoringDir).filter((file) => file.endsWith('.yaml')).flatMap((file) =>
    parseAllDocuments(readFileSync(monitoringDir + file, 'utf8')).map((document) => document.toJS()))
  const [kustomization] = monitoring.filter((manifest) => manifest.kind === 'Kustomization')
  const [monitor] = monitoring.filter((manifest) => manifest.kind === 'ServiceMonitor')
  t.same(kustomization.resources, ['servicemonitor.yaml'])
  t.notOk((byKind('Kustomization')[0].resources as string[]).some((resource) => /monitor/i.test(resource)), 'not in the default kustomization')
  t.equal(monitor.apiVersion, 'monitoring.coreos.com/v1')
  t.equal(monitor.metadata.name, 'openim-gateway')
  t.equal(monitor.metadata.labels['app.kubernetes.io/name'], 'openim-gateway')
  const service = byKind('Service')[0]
  t.ok((service.spec.ports as any[]).some((port) => port.name === 'metrics'), 'the Service has the port named metrics')
  t.ok(Object.entries(monitor.spec.selector.matchLabels).every(([key, value]) => service.metadata.labels[key] === value), 'selects the Service by its labels')
  t.same(monitor.spec.endpoints.map((endpoint: { port: unknown, path: unknown }) => [endpoint.port, endpoint.path]), [['metrics', '/metrics']], 'a named port, not a number')
})

t.test('TRUST_PROXY believes the ingress controller only, not every client of the cluster network', async (t) => {
  const configMap = byKind('ConfigMap')[0]
  const emulator = await startOpenIm(t)
  const { app, logs } = await buildGateway(t, emulator.url, { GATEWAY_API_KEYS: '', AUTH_DISABLED: 'true', TRUST_PROXY: configMap.data.TRUST_PROXY })
  const ingress = '10.244.3.17'
  const clientAddress = async (forwardedFor: string) => {
    const response = await app.inject({ method: 'POST', url: '/provision', payload: { userID: 'kim', platformID: 5 }, remoteAddress: ingress, headers: { 'x-forwarded-for': forwardedFor } })
    return logs.records.find((line) => line.reqId === response.headers['x-request-id'] && line.msg === 'request completed')?.ip
  }
  t.equal(await clientAddress('203.0.113.9'), '203.0.113.9', 'behind the ingress, the client\'s address')
  // A client inside the cluster network (a pod, a VPN user) claims another address; the ingress appends the real one.
  t.equal(await clientAddress('198.51.100.7, 10.8.0.5'), '10.8.0.5', 'a claim made before the ingress is not believed')
  t.equal(await clientAddress('198.51.100.7, 10.1.1.1, 10.8.0.5'), '10.8.0.5', 'nor a chain of cluster addresses before it')
})
