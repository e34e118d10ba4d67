// Placeholder until the logs screens land.
export function LogsPage(_props: { parts: string[]; query: URLSearchParams }) {
  return <h1>Logs</h1>;
}
