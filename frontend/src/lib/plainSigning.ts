/**
 * Plain words for signing explanations. The screens explain each signature as "Signs a “RevokeAccess”
 * instruction (EIP-712) …"; people need the first half ("Signs an instruction …"), and only the
 * curious the EIP-712 type name. `splitSigningExplain` takes the type names out of the text and
 * returns them separately, for a "Details" toggle, so every explanation reads the same without
 * each screen spelling out both versions.
 */

export interface SigningExplain {
  /** The explanation without EIP-712 jargon. */
  plain: string
  /** The EIP-712 type names the text mentioned, in order (empty: nothing to put behind "Details"). */
  types: string[]
}

// 'a “RevokeAccess” instruction (EIP-712)' (article optional) -> 'an instruction'.
const TYPED = /(?:\b(a|an)\s+)?“(\w+)”\s+(\w+)\s*\(EIP-712\)/g

const article = (noun: string) => (/^[aeiou]/i.test(noun) ? 'an' : 'a')

export function splitSigningExplain(text: string): SigningExplain {
  const types: string[] = []
  const plain = text.replace(TYPED, (_match, art: string | undefined, type: string, noun: string) => {
    types.push(type)
    return art ? `${article(noun)} ${noun}` : noun
  })
  return { plain, types }
}

/** The text behind "Details": what the wallet will show, for people who compare. */
export function signingDetails(types: readonly string[]): string {
  const names = types.map((type) => `“${type}”`).join(', ')
  return `Technically this is an EIP-712 typed-data signature of type ${names}; your wallet shows that name and the fields it signs.`
}
