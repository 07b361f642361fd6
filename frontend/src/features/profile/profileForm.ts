/** The profile form's rules, as the API applies them (validation.text: 1-100 characters, needed to publish). */

export const MAX_NAME_LENGTH = 100

/** A name as the API stores it: trimmed, runs of blanks made one space. */
export function normalName(displayName: string): string {
  return displayName.split(/\s+/).filter(Boolean).join(' ')
}

/** Why the form cannot be saved as it is, in words for the person filling it; null when it can. */
export function profileProblem(displayName: string, published: boolean): string | null {
  const name = normalName(displayName)
  if (published && !name) return 'Enter a name before letting doctors find you by it.'
  if (name.length > MAX_NAME_LENGTH) return `A name has at most ${MAX_NAME_LENGTH} characters.`
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'A name cannot contain control characters.'
  return null
}
