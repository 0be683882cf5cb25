// Text the CLI did not write itself (what answers at GATEWAY_URL, and a file's values), made safe to print. A
// terminal obeys escape sequences wherever they come from: ESC and the other C0/C1 controls can move the cursor,
// rewrite the lines above (a fake summary), set the window title or hide what follows.

// Cc: the C0 controls (ESC among them), DEL and the C1 controls (CSI among them).
const CONTROLS = /(?![\t\n])\p{Cc}/gu
// JSON.stringify escapes C0 controls, not DEL and the C1 ones.
const UNESCAPED_IN_JSON = /[\u007F-\u009F]/g

/** `text` without its control characters, tab and newline kept. */
export const printable = (text: string): string => text.replace(CONTROLS, '')

/** `value` as one line of JSON with every control character escaped: the same value when parsed, inert when printed. */
export const printableJson = (value: unknown): string =>
  JSON.stringify(value).replace(UNESCAPED_IN_JSON, (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`)
