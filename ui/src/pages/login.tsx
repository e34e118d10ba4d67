// The superuser sign-in screen: email + password, a one-time code sent by email when the
// superusers collection allows it, and the second step when the server asks for MFA (a 401 whose
// body carries `mfaId`: the first method passed, a different one must follow).
import { useEffect, useState } from "preact/hooks";
import { ClientResponseError, errorMessage, fieldErrors, pb } from "../api";
import { ErrorBanner } from "../components/dialog";
import { Field } from "../components/field";

type Step =
  | { kind: "password" }
  | { kind: "otp-email" }
  | { kind: "otp-code"; otpId: string };

/** The id of the MFA session a 401 opened, if the answer was one. */
function mfaIdOf(err: unknown): string | undefined {
  if (err instanceof ClientResponseError && err.status === 401) {
    const body = err.response ?? {};
    return body.mfaId || body.data?.mfaId || undefined;
  }
  return undefined;
}

// The login and install screens: one centred card (inline, as no other screen shares it).
export const AUTH_SCREEN = { minHeight: "100vh", display: "grid", placeItems: "center", padding: "24px" };
export const AUTH_CARD = {
  width: "min(380px, 100%)",
  background: "var(--panel)",
  border: "1px solid var(--border)",
  borderRadius: "var(--radius)",
  padding: "24px",
};

export function LoginPage() {
  const superusers = pb.collection("_superusers");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [code, setCode] = useState("");
  const [step, setStep] = useState<Step>({ kind: "password" });
  // Set once the first factor passed and the server wants a second one.
  const [mfaId, setMfaId] = useState<string | undefined>();
  const [methods, setMethods] = useState({ password: true, otp: false });
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  const [errors, setErrors] = useState<Record<string, string>>({});

  useEffect(() => {
    superusers
      .listAuthMethods()
      .then((m) => setMethods({ password: m.password.enabled, otp: m.otp.enabled }))
      // Without the answer the password form is still the best guess.
      .catch(() => {});
  }, []);
  useEffect(() => {
    if (!methods.password && methods.otp && step.kind === "password" && !mfaId) setStep({ kind: "otp-email" });
  }, [methods]);

  async function run(action: () => Promise<void>) {
    setBusy(true);
    setError("");
    setErrors({});
    try {
      await action();
    } catch (err) {
      const nextMfa = mfaIdOf(err);
      if (nextMfa && !mfaId) {
        setMfaId(nextMfa);
        await secondFactorAfter(step.kind === "password" ? "password" : "otp");
      } else {
        setErrors(fieldErrors(err));
        setError(errorMessage(err));
      }
    } finally {
      setBusy(false);
    }
  }

  // After the first method passed: a password sign-in continues with an emailed code, a code
  // sign-in continues with the password.
  async function secondFactorAfter(first: "password" | "otp") {
    if (first === "password") {
      try {
        const { otpId } = await superusers.requestOTP(email);
        setCode("");
        setStep({ kind: "otp-code", otpId });
      } catch (err) {
        setError(`A second step is required, but sending the code failed: ${errorMessage(err)}`);
      }
    } else {
      setPassword("");
      setStep({ kind: "password" });
    }
  }

  const signInWithPassword = () =>
    run(async () => {
      await superusers.authWithPassword(email, password, mfaId ? { mfaId } : undefined);
    });
  const sendCode = () =>
    run(async () => {
      const { otpId } = await superusers.requestOTP(email);
      setCode("");
      setStep({ kind: "otp-code", otpId });
    });
  const signInWithCode = (otpId: string) =>
    run(async () => {
      await superusers.authWithOTP(otpId, code.trim(), mfaId ? { mfaId } : undefined);
    });

  function restart() {
    setMfaId(undefined);
    setError("");
    setErrors({});
    setStep({ kind: methods.password ? "password" : "otp-email" });
  }

  return (
    <main style={AUTH_SCREEN}>
      <form
        class="stack"
        style={AUTH_CARD}
        onSubmit={(e) => {
          e.preventDefault();
          if (step.kind === "password") signInWithPassword();
          else if (step.kind === "otp-email") sendCode();
          else signInWithCode(step.otpId);
        }}
      >
        <h1>Sign in to Scalebase</h1>
        {mfaId && (
          <p class="hint" role="status">
            {step.kind === "otp-code"
              ? "Your password was accepted. A second step is required: enter the code we emailed you."
              : "Your code was accepted. A second step is required: enter your password."}
          </p>
        )}
        {step.kind === "otp-code" && !mfaId && (
          <p class="hint" role="status">
            If {email} belongs to a superuser, a one-time code is on its way there.
          </p>
        )}
        {error && <ErrorBanner message={error} />}

        <Field label="Email" error={errors.email || errors.identity}>
          {({ id, describedBy, invalid }) => (
            <input
              id={id}
              type="email"
              autoComplete="username"
              required
              autoFocus
              readOnly={!!mfaId || step.kind === "otp-code"}
              value={email}
              aria-describedby={describedBy}
              aria-invalid={invalid}
              onInput={(e) => setEmail(e.currentTarget.value)}
            />
          )}
        </Field>

        {step.kind === "password" && (
          <Field label="Password" error={errors.password}>
            {({ id, describedBy, invalid }) => (
              <input
                id={id}
                type="password"
                autoComplete="current-password"
                required
                value={password}
                aria-describedby={describedBy}
                aria-invalid={invalid}
                onInput={(e) => setPassword(e.currentTarget.value)}
              />
            )}
          </Field>
        )}

        {step.kind === "otp-code" && (
          <Field label="One-time code" error={errors.password || errors.otpId}>
            {({ id, describedBy, invalid }) => (
              <input
                id={id}
                inputMode="numeric"
                autoComplete="one-time-code"
                required
                autoFocus
                value={code}
                aria-describedby={describedBy}
                aria-invalid={invalid}
                onInput={(e) => setCode(e.currentTarget.value)}
              />
            )}
          </Field>
        )}

        <button type="submit" class="primary" disabled={busy}>
          {step.kind === "otp-email" ? "Send code" : "Sign in"}
        </button>

        <div class="row">
          {!mfaId && step.kind === "password" && methods.otp && (
            <button type="button" class="link" onClick={() => setStep({ kind: "otp-email" })}>
              Use a one-time code instead
            </button>
          )}
          {!mfaId && step.kind !== "password" && methods.password && (
            <button type="button" class="link" onClick={() => setStep({ kind: "password" })}>
              Use the password instead
            </button>
          )}
          {(mfaId || step.kind === "otp-code") && (
            <button type="button" class="link" onClick={restart}>
              Start over
            </button>
          )}
        </div>
      </form>
    </main>
  );
}
