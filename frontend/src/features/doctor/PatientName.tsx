/**
 * A patient as doctors see them: the published display name when there is one, with the short
 * address beside it (the address is what grants and requests are made to, so it stays visible);
 * the bare address otherwise, or while the name is being looked up.
 */
import { Address } from '../../components/ui'

export function PatientName({ address, names }: { address: string; names: Map<string, string | null> }) {
  const name = names.get(address.toLowerCase())
  if (!name) return <Address value={address} />
  return (
    <span className="patient-name">
      <span>{name}</span> <Address value={address} />
    </span>
  )
}
