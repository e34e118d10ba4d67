// The first-start screen (`#/pbinstall/<token>`): the server prints this link while no superuser
// exists; the token belongs to a temporary installer account allowed to create the first real
// superuser. After creating it we sign in with the new credentials.
import { useState } from "preact/hooks";
import { errorMessage, fieldErrors, pb } from "../api";
import { ErrorBanner } from "../components/dialog";
import { Field } from "../components/field";
import { navigate } from "../router";
import { AUTH_CARD, AUTH_SCREEN } from "./login";

export function InstallPage(props: { token: string }) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [passwordConfirm, setPasswordConfirm] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  const [errors, setErrors] = useState<Record<string, string>>({});

  async function submit(e: Event) {
    e.preventDefault();
    setError("");
    setErrors({});
    if (password !== passwordConfirm) {
      setErrors({ passwordConfirm: "The passwords do not match." });
      return;
    }
    setBusy(true);
    try {
      // The installer's token, not the stored session (there is none yet, or a stale one).
      await pb.send("/api/collections/_superusers/records", {
        method: "POST",
        headers: { Authorization: props.token },
        body: { email, password, passwordConfirm },
      });
    } catch (err) {
      setErrors(fieldErrors(err));
      setError(
        (err as { status?: number }).status === 401
          ? "This install link is no longer valid (it works once, until a superuser exists). Restart the server for a new one, or sign in."
          : errorMessage(err),
      );
      setBusy(false);
      return;
    }
    try {
      await pb.collection("_superusers").authWithPassword(email, password);
      navigate("collections");
    } catch (err) {
      setError(`The superuser was created, but signing in failed: ${errorMessage(err)}`);
    } finally {
      setBusy(false);
    }
  }

  return (
    <main style={AUTH_SCREEN}>
      <form class="stack" style={AUTH_CARD} onSubmit={submit}>
        <h1>Create your first superuser</h1>
        <p class="hint">This account signs in to this admin screen and may do anything on this server.</p>
        {error && <ErrorBanner message={error} />}
        <Field label="Email" error={errors.email}>
          {({ id, describedBy, invalid }) => (
            <input
              id={id}
              type="email"
              autoComplete="username"
              required
              autoFocus
              value={email}
              aria-describedby={describedBy}
              aria-invalid={invalid}
              onInput={(e) => setEmail(e.currentTarget.value)}
            />
          )}
        </Field>
        <Field label="Password" error={errors.password} hint="At least 8 characters.">
          {({ id, describedBy, invalid }) => (
            <input
              id={id}
              type="password"
              autoComplete="new-password"
              required
              value={password}
              aria-describedby={describedBy}
              aria-invalid={invalid}
              onInput={(e) => setPassword(e.currentTarget.value)}
            />
          )}
        </Field>
        <Field label="Confirm password" error={errors.passwordConfirm}>
          {({ id, describedBy, invalid }) => (
            <input
              id={id}
              type="password"
              autoComplete="new-password"
              required
              value={passwordConfirm}
              aria-describedby={describedBy}
              aria-invalid={invalid}
              onInput={(e) => setPasswordConfirm(e.currentTarget.value)}
            />
          )}
        </Field>
        <button type="submit" class="primary" disabled={busy}>
          Create superuser and sign in
        </button>
      </form>
    </main>
  );
}
