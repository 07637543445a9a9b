// Reads the README as a user follows it: the packages its install lines name,
// and the code of a step.

/** The text of the README's section under `heading` (a `## ` line), up to the next one. */
function section (readme: string, heading: string): string {
  const start = readme.indexOf(`\n## ${heading}\n`)
  if (start === -1) throw new Error(`README has no "## ${heading}"`)
  const end = readme.indexOf('\n## ', start + 1)
  return readme.slice(start, end === -1 ? undefined : end)
}

/** The first fenced block of `language` in the section under `heading`. */
export function readmeBlock (readme: string, heading: string, language: string): string {
  const block = new RegExp(`^\`\`\`${language}\\n([\\s\\S]*?)^\`\`\`$`, 'm').exec(section(readme, heading))
  if (block === null) throw new Error(`README's "## ${heading}" has no ${language} block`)
  return block[1]
}

export interface Install {
  name: string
  /** The version given after `@`, if any. */
  version?: string
}

/** Every package the `npm i` lines of the README's Install section name, in order. */
export function readmeInstall (readme: string): Install[] {
  return readmeBlock(readme, 'Install', 'sh').split('\n')
    .map((line) => line.replace(/#.*/, '').trim().split(/\s+/))
    .filter(([npm, command]) => npm === 'npm' && (command === 'i' || command === 'install'))
    .flatMap((words) => words.slice(2).filter((word) => !word.startsWith('-')))
    .map((spec) => {
      const at = spec.lastIndexOf('@')
      return at > 0 ? { name: spec.slice(0, at), version: spec.slice(at + 1) } : { name: spec }
    })
}
