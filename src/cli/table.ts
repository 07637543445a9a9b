const MAX_CELL = 40

// Names and extra columns come from whoever created the key: a control
// character could move the cursor or rewrite what the terminal shows.
export function printable (text: string): string {
  let out = ''
  for (const char of text) {
    const code = char.codePointAt(0) as number
    out += code < 0x20 || (code >= 0x7f && code < 0xa0) ? '?' : char
  }
  return out
}

function fit (text: string): string {
  return text.length > MAX_CELL ? `${text.slice(0, MAX_CELL - 1)}…` : text
}

/** Columns padded to their widest cell, two spaces apart; long cells are cut. */
export function formatTable (header: string[], rows: string[][]): string {
  const lines = [header, ...rows.map((row) => row.map((cell) => fit(printable(cell))))]
  const widths = header.map((_, i) => Math.max(...lines.map((line) => line[i].length)))
  return lines.map((line) => line.map((cell, i) => cell.padEnd(widths[i])).join('  ').trimEnd()).join('\n')
}

/** `label  value` lines, labels aligned; values are shown whole. */
export function formatPairs (pairs: Array<[string, string]>): string {
  const width = Math.max(...pairs.map(([label]) => label.length))
  return pairs.map(([label, value]) => `${label.padEnd(width)}  ${printable(value)}`).join('\n')
}
