import t from 'tap'
import { wantsColour } from '../../src/doctor/args.js'
import { displayUrl, renderText, scrub, summarize, type CheckResult, type Report } from '../../src/doctor/report.js'

t.test('scrub replaces every known credential in every string, however deep', async (t) => {
  const report = { summary: 'token eyJhbGciOi.abc.def refused', nested: [{ hint: 'secret s3cret-value here' }], count: 3 }
  t.same(scrub(report, ['eyJhbGciOi.abc.def', 's3cret-value', 'abc']), {
    summary: 'token [redacted] refused', nested: [{ hint: 'secret [redacted] here' }], count: 3
  }, 'values shorter than 6 characters are left alone: they would blank out ordinary words')
})

t.test('displayUrl drops user, password, query and fragment, and says credentials were left out', async (t) => {
  t.equal(displayUrl('redis://:hunter2-password@redis:6379/0'), 'redis://redis:6379/0 (credentials hidden)')
  t.equal(displayUrl('https://id.example.com/jwks.json?token=abc#x'), 'https://id.example.com/jwks.json')
  t.equal(displayUrl('http://openim-server:10002/'), 'http://openim-server:10002')
  t.equal(displayUrl('not a url'), '(not a URL)')
})

t.test('the text report: symbols, hints under failures, notes, colours only when asked', async (t) => {
  const checks: CheckResult[] = [
    { id: 'a', title: 'First', status: 'pass', summary: 'fine', notes: ['what it means'], durationMs: 1 },
    { id: 'b', title: 'Second check', status: 'fail', summary: 'broken', hint: 'set X', durationMs: 1 },
    { id: 'c', title: 'Third', status: 'warn', summary: 'odd', hint: 'look at Y', durationMs: 1 },
    { id: 'd', title: 'Fourth', status: 'skip', summary: 'skipped', durationMs: 0 }
  ]
  const report: Report = {
    doctor: 'openim-gateway', version: '0.0.0', node: 'v20', startedAt: '', durationMs: 12, target: { apiUrl: 'http://x:1' }, ...summarize(checks), checks
  }
  const plain = renderText(report, false)
  t.equal(plain, [
    'openim-gateway doctor 0.0.0: OpenIM at http://x:1',
    '',
    '✓ First         fine',
    '                what it means',
    '✗ Second check  broken',
    '                fix: set X',
    '! Third         odd',
    '                fix: look at Y',
    '- Fourth        skipped',
    '',
    'problems found: 1 ok, 1 warning, 1 failing, 1 skipped (12 ms)',
    ''
  ].join('\n'))
  t.equal(report.ok, false)
  t.ok(renderText(report, true).includes('\u001b[31m✗\u001b[39m Second check'))
})

t.test('after --write the text report says what was registered, or that nothing was', async (t) => {
  const base = { doctor: 'openim-gateway' as const, version: '0', node: '', startedAt: '', durationMs: 0, ok: true, counts: { pass: 0, warn: 0, fail: 0, skip: 0 }, checks: [] }
  t.match(renderText({ ...base, target: { write: true, created: ['gwdoctor_probe'] } }, false), /--write registered gwdoctor_probe in OpenIM; they stay/)
  t.match(renderText({ ...base, target: { write: true, created: [] } }, false), /--write created nothing in OpenIM/)
})

t.test('colours only on a terminal, and not with NO_COLOR set; an empty NO_COLOR counts as unset', async (t) => {
  t.equal(wantsColour(true, {}), true)
  t.equal(wantsColour(true, { NO_COLOR: '' }), true)
  t.equal(wantsColour(true, { NO_COLOR: '1' }), false)
  t.equal(wantsColour(false, {}), false)
  t.equal(wantsColour(undefined, {}), false, 'a pipe or a file')
})
