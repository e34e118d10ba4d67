// Placeholder until the install screen lands.
export function InstallPage(_props: { token: string }) {
  return <h1>Create your first superuser</h1>;
}
