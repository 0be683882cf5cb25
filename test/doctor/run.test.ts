import t from 'tap'
import { loadConfig } from '../../src/config/index.js'
import { DoctorContext, type Check } from '../../src/doctor/context.js'
import { runChecks } from '../../src/doctor/run.js'
import { OpenImDiagnostics } from '../../src/openim/diagnostics.js'

// The runner itself, with checks written for the test: order, prerequisites, and a check that breaks.
t.test('a check that throws fails without stopping the run; checks needing a failed one are skipped, naming it', async (t) => {
  const config = loadConfig({ OPENIM_API_URL: 'http://127.0.0.1:1', OPENIM_SECRET: 'abcdefgh' }, { requireCallerAuth: false })
  const diagnostics = new OpenImDiagnostics(config.openim.apiUrl, 1000)
  t.teardown(() => diagnostics.close())
  const ran: string[] = []
  const checks: Check[] = [
    { id: 'broken', title: 'Broken', async run () { ran.push('broken'); throw new Error('undefined is not a function') } },
    { id: 'after', title: 'After', needs: ['broken'], async run () { ran.push('after'); return { status: 'pass', summary: '' } } },
    { id: 'independent', title: 'Independent', async run () { ran.push('independent'); return { status: 'pass', summary: 'fine' } } }
  ]
  const results = await runChecks(new DoctorContext(config, diagnostics), checks)
  t.same(ran, ['broken', 'independent'])
  t.match(results, [
    { id: 'broken', status: 'fail', summary: 'the check itself failed: undefined is not a function', hint: /a bug in the doctor/ },
    { id: 'after', status: 'skip', summary: 'skipped: needs "Broken"' },
    { id: 'independent', status: 'pass' }
  ])
})
