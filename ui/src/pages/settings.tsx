// Placeholder until the settings screens land.
export function SettingsPage(_props: { parts: string[]; query: URLSearchParams }) {
  return <h1>Settings</h1>;
}
