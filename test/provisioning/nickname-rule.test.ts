import t from 'tap'
import { Check } from 'typebox/value'
import { Nickname } from '../../src/http/schemas/index.js'
import { NICKNAME_PATTERN, defaultNickname, isNickname } from '../../src/provisioning/profile-rules.js'
import { buildGateway, provision, startOpenIm, userCount } from '../helper.js'

// Blank means blank: a nickname made only of White_Space, Default_Ignorable_Code_Point and the characters that draw
// nothing (U+2800 braille blank, U+3164 and U+FFA0 Hangul fillers, U+115F and U+1160 Hangul jamo fillers) shows
// nobody. The code points come from this Node's own Unicode tables, so both Node lines are checked against theirs.
const codePoints = (property: RegExp) => Array.from({ length: 0x110000 }, (_, c) => c)
  .filter((c) => (c < 0xD800 || c > 0xDFFF) && property.test(String.fromCodePoint(c)))
const BLANKS = [...new Set([...codePoints(/^\p{White_Space}$/u), ...codePoints(/^\p{Default_Ignorable_Code_Point}$/u),
  0x2800, 0x3164, 0x115F, 0x1160, 0xFFA0])]
const hex = (c: number) => `U+${c.toString(16).toUpperCase().padStart(4, '0')}`
/** The pattern as OpenAPI tools read it (no "u" flag), and as the gateway's validators do (with it). */
const plain = new RegExp(NICKNAME_PATTERN)
const unicode = new RegExp(NICKNAME_PATTERN, 'u')
// Refused for their own sake, whatever surrounds them.
const CONTROLS_AND_BIDI = (c: number) => c <= 0x1F || (c >= 0x7F && c <= 0x9F) || [0x061C, 0x200E, 0x200F, 0x2028, 0x2029].includes(c) ||
  (c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069)

t.test(`each of the ${BLANKS.length} blank code points, alone or repeated, is no nickname`, async (t) => {
  t.ok(BLANKS.length > 4000, 'White_Space and Default_Ignorable_Code_Point as this Node knows them')
  const accepted = BLANKS.filter((c) => {
    const name = String.fromCodePoint(c).repeat(3)
    return isNickname(name) || Check(Nickname, name) || plain.test(name)
  })
  t.same(accepted.map(hex), [], 'the rule, the schema and the pattern read without "u" all refuse them')
  t.same(BLANKS.filter((c) => c <= 0xFFFF && unicode.test(String.fromCodePoint(c))).map(hex), [], 'the pattern with "u" too, in the BMP')
  t.notOk(isNickname(BLANKS.map((c) => String.fromCodePoint(c)).join('')), 'all of them together')
  t.notOk(Check(Nickname, '\u3164\u2800 \u115F\u1160\uFFA0\u034F\u{E0020}\u{1D173}'), 'a mix')
})

t.test('next to a visible character each blank is allowed, unless it is a control or bidi character', async (t) => {
  const refused = BLANKS.filter((c) => !isNickname(`Ann${String.fromCodePoint(c)}`))
  t.same(refused.map(hex), BLANKS.filter(CONTROLS_AND_BIDI).map(hex))
  t.ok(Check(Nickname, 'Ann\u3164Lee'))
  t.ok(Check(Nickname, '\u{1F600}'), 'an emoji alone is visible')
  t.ok(Check(Nickname, '\u{20000}'), 'so is a supplementary-plane ideograph')
})

t.test('the pattern read without "u", the pattern with "u" and the rule agree on every BMP character after a letter; alone, the ' +
  'pattern is looser only by what is no letter, number, punctuation or symbol', async (t) => {
  const disagreements: string[] = []
  const looser: number[] = []
  for (let c = 0; c <= 0xFFFF; c++) {
    if (c >= 0xD800 && c <= 0xDFFF) continue
    const alone = String.fromCharCode(c)
    const rule = isNickname(alone)
    if (plain.test(alone) !== unicode.test(alone) || (rule && !plain.test(alone))) disagreements.push(`${JSON.stringify(alone)} ${hex(c)}`)
    if (!rule && plain.test(alone)) looser.push(c)
    const afterLetter = `a${alone}`
    if (plain.test(afterLetter) !== isNickname(afterLetter) || unicode.test(afterLetter) !== isNickname(afterLetter)) {
      disagreements.push(`${JSON.stringify(afterLetter)} ${hex(c)}`)
    }
  }
  t.same(disagreements, [])
  t.same(looser.filter((c) => /[\p{L}\p{N}\p{P}\p{S}]/u.test(String.fromCharCode(c))).map(hex), [])
  t.ok(looser.includes(0x0301), 'a combining mark alone passes the pattern, and the format refuses it')
})

t.test('a nickname needs a letter, number, punctuation mark or symbol: marks and format controls alone are refused', async (t) => {
  const refused = ['\u0301', '\u0301\u0308', '\u20DD', '\u{13430}', '\u{13430}\u{1343F}', '\u{16FE4}', '\u{16FE4}\u0301', '\uE000',
    '\u3164\u0301', '\u0378']
  for (const name of refused) t.same([isNickname(name), Check(Nickname, name)], [false, false], JSON.stringify(name))
  const accepted = ['e\u0301', '\u0301e', '.', '1', '\u00A9', '\u{13000}\u{13430}\u{13001}', '\u0915\u094D\u200D']
  for (const name of accepted) t.same([isNickname(name), Check(Nickname, name)], [true, true], JSON.stringify(name))
})

t.test('lone surrogates are refused, pairs accepted, by the rule, the schema and both readings of the pattern', async (t) => {
  for (const name of ['Ann\uD800', '\uDC00Ann', 'A\uDBFF\uDBFF']) {
    t.same([isNickname(name), Check(Nickname, name), plain.test(name), unicode.test(name)], [false, false, false, false], JSON.stringify(name))
  }
  t.same([isNickname('Ann\u{1F600}'), plain.test('Ann\u{1F600}'), unicode.test('Ann\u{1F600}')], [true, true, true])
})

t.test('a userID made of blanks gets the neutral default nickname', async (t) => {
  t.match(defaultNickname('\u3164\u3164'), /^user_[0-9a-f]{12}$/)
  t.equal(defaultNickname('ann_1'), 'ann_1')
})

t.test('blank nicknames are 400 on /provision, before any OpenIM call', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url)
  for (const nickname of ['\u3164', '\u2800\u2800', '\u115F\u1160', '\u034F', '\uFFA0 ', '\u{E0020}\u{E0041}', '\u0301', '\u{13430}']) {
    const response = await provision(app, { userID: 'blank_1', platformID: 5, nickname })
    t.equal(response.statusCode, 400, JSON.stringify(nickname))
    t.match(response.json(), { code: 'INVALID_REQUEST', message: /^body\.nickname .*blanks/ })
  }
  t.equal(userCount(emulator), 0)
})
