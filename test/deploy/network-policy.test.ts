import { readFileSync } from 'node:fs'
import t from 'tap'
import { parse, parseAllDocuments } from 'yaml'

// The Kubernetes guide's NetworkPolicy for the metrics port (docs/operators/kubernetes.md) must fit the manifests
// it protects: their pod labels and their container's port names.
const guide = readFileSync(new URL('../../docs/operators/kubernetes.md', import.meta.url), 'utf8')
const snippet = [...guide.matchAll(/```yaml\n([^]*?)```/g)].map((match) => parse(match[1]!)).find((document) => document?.kind === 'NetworkPolicy')
const deployment = parseAllDocuments(readFileSync(new URL('../../deploy/kubernetes/deployment.yaml', import.meta.url), 'utf8'))
  .map((document) => document.toJS()).find((manifest) => manifest.kind === 'Deployment')

t.test('the Kubernetes guide\'s NetworkPolicy selects the gateway\'s pods, the API port to the ingress controller and the metrics port to Prometheus only', async (t) => {
  t.ok(snippet, 'the guide has one')
  t.equal(snippet.apiVersion, 'networking.k8s.io/v1')
  for (const [label, value] of Object.entries(snippet.spec.podSelector.matchLabels)) t.equal(deployment.spec.template.metadata.labels[label], value, label)
  const portNames = deployment.spec.template.spec.containers[0].ports.map((port: { name: string }) => port.name)
  const rules = snippet.spec.ingress as Array<{ ports: Array<{ port: string }>, from?: unknown[] }>
  t.same(rules.flatMap((rule) => rule.ports.map((port) => port.port)).sort(), [...portNames].sort(), 'every container port has a rule, by name')
  // TRUST_PROXY believes one hop: a pod that reached the API port directly could choose its own client address.
  const fromOneNamespace = [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': /.+/ } } }]
  t.match(rules.find((rule) => rule.ports[0]?.port === 'http')?.from, fromOneNamespace, 'the API from the ingress controller')
  t.match(rules.find((rule) => rule.ports[0]?.port === 'metrics')?.from, fromOneNamespace, 'the metrics from Prometheus')
})
