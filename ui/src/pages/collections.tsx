// Placeholder until the collections screens land.
export function CollectionsPage(_props: { parts: string[]; query: URLSearchParams }) {
  return <h1>Collections</h1>;
}
