// Placeholder until the login screen lands.
export function LoginPage() {
  return <h1>Sign in</h1>;
}
