import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import GithubSlugger from 'github-slugger'
import t from 'tap'

// The README and docs/ link to each other by relative paths and anchors; a page moved or a heading renamed must not
// leave a reader at a dead link. Every relative link and anchor must resolve, as GitHub renders them.
const root = fileURLToPath(new URL('../../', import.meta.url))

const markdownFiles = (directory: string): string[] => readdirSync(directory).flatMap((name) => {
  const path = join(directory, name)
  if (statSync(path).isDirectory()) return markdownFiles(path)
  return name.endsWith('.md') ? [path] : []
})

const pages = ['README.md', 'CONTRIBUTING.md', 'CHANGELOG.md'].map((name) => join(root, name)).concat(markdownFiles(join(root, 'docs')))

/** Text outside fenced code blocks and inline code, where links and headings mean something. */
const prose = (text: string) => text.replace(/^```[^]*?^```/gm, '').replace(/`[^`\n]*`/g, (code) => code.replace(/[[\]()]/g, ' '))

/** The anchors GitHub gives a page: one per heading (repeats numbered), and explicit ids. */
function anchors (path: string): Set<string> {
  const slugger = new GithubSlugger()
  const text = readFileSync(path, 'utf8').replace(/^```[^]*?^```/gm, '')
  const headings = [...text.matchAll(/^#{1,6} (.+)$/gm)].map((match) => match[1]!.replace(/\[([^\]]*)\]\([^)]*\)/g, '$1').replace(/`/g, ''))
  return new Set([...headings.map((heading) => slugger.slug(heading)), ...[...text.matchAll(/\bid="([^"]+)"/g)].map((match) => match[1]!)])
}

t.test('every relative link and anchor in README.md, CONTRIBUTING.md, CHANGELOG.md and docs/ resolves', async (t) => {
  t.ok(pages.length > 10, 'the pages are found')
  for (const page of pages) {
    const name = relative(root, page)
    for (const [, target] of prose(readFileSync(page, 'utf8')).matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/i.test(target!)) continue
      const [file = '', anchor] = target!.split('#')
      const resolved = file === '' ? page : join(dirname(page), file)
      if (!existsSync(resolved)) {
        t.fail(`${name}: ${target} points at a missing file`)
        continue
      }
      if (anchor !== undefined && !anchors(resolved).has(decodeURIComponent(anchor))) t.fail(`${name}: ${target} points at a missing anchor`)
    }
  }
})
