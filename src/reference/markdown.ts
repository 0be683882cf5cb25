// The little Markdown the generated reference needs: inline code and tables whose cells cannot break a row.

export const code = (text: string | number | boolean) => `\`${String(text)}\``

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ')

export function table (headers: string[], rows: string[][]): string {
  return [headers, headers.map(() => '---'), ...rows].map((row) => `| ${row.map(cell).join(' | ')} |`).join('\n')
}
