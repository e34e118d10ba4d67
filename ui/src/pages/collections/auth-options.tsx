// The options of an auth collection: password, one-time code, MFA, OAuth2 providers, token
// lifetimes and email templates. `draft` is the collection as the editor holds it.
import { useEffect, useState } from "preact/hooks";
import { pb } from "../../api";
import { errorAt, type ErrorTree } from "./errors";
import type { FieldDraft } from "./fields";
import { CheckOption, NumberOption, SelectOption, TextOption } from "./inputs";
import { RuleInput, type RuleErrors } from "./rules";

// The editor's draft is loosely typed: the options are nested objects the server defines.
type Draft = Record<string, any>;

interface ProviderInfo {
  name: string;
  displayName: string;
}

/** Built-in OAuth2 providers the server knows, or null when it does not say. */
function useProviders(): ProviderInfo[] | null {
  const [providers, setProviders] = useState<ProviderInfo[] | null>(null);
  useEffect(() => {
    pb.send("/api/collections/meta/oauth2-providers", {})
      .then((list: ProviderInfo[]) => setProviders(Array.isArray(list) ? list : null))
      // Without the list the provider name is typed by hand.
      .catch(() => setProviders(null));
  }, []);
  return providers;
}

const TOKENS = [
  { key: "authToken", label: "Auth token" },
  { key: "verificationToken", label: "Email verification token" },
  { key: "passwordResetToken", label: "Password reset token" },
  { key: "emailChangeToken", label: "Email change token" },
  { key: "fileToken", label: "Protected file token" },
];

const TEMPLATES = [
  { path: ["verificationTemplate"], label: "Verification email" },
  { path: ["resetPasswordTemplate"], label: "Password reset email" },
  { path: ["confirmEmailChangeTemplate"], label: "Email change email" },
  { path: ["otp", "emailTemplate"], label: "One-time code email" },
  { path: ["authAlert", "emailTemplate"], label: "New sign-in alert email" },
];

export function AuthOptions(props: {
  draft: Draft;
  fields: FieldDraft[];
  errors: ErrorTree;
  ruleErrors: RuleErrors;
  onChange: (patch: Draft) => void;
}) {
  const { draft, errors } = props;
  const providers = useProviders();
  const passwordAuth = draft.passwordAuth ?? { enabled: true, identityFields: ["email"] };
  const otp = draft.otp ?? { enabled: false, duration: 180, length: 8 };
  const mfa = draft.mfa ?? { enabled: false, duration: 600, rule: "" };
  const oauth2 = draft.oauth2 ?? { enabled: false, providers: [], mappedFields: {} };
  const set = (key: string, value: object) => props.onChange({ [key]: value });
  const fieldNames = props.fields.map((f) => f.name).filter(Boolean);

  return (
    <div class="stack">
      <section class="option-section" aria-labelledby="opt-password">
        <h2 id="opt-password">Password</h2>
        <CheckOption
          label="Allow signing in with a password"
          checked={passwordAuth.enabled}
          error={errorAt(errors, "passwordAuth", "enabled")}
          onChange={(v) => set("passwordAuth", { ...passwordAuth, enabled: v })}
        />
        <fieldset class={errorAt(errors, "passwordAuth", "identityFields") ? "invalid" : ""}>
          <legend>Identity fields</legend>
          <div class="row">
            {fieldNames
              .filter((n) => !["id", "password", "tokenKey"].includes(n))
              .map((name) => (
                <label key={name} class="check">
                  <input
                    type="checkbox"
                    checked={passwordAuth.identityFields?.includes(name)}
                    onChange={(e) => {
                      const list: string[] = passwordAuth.identityFields ?? [];
                      set("passwordAuth", {
                        ...passwordAuth,
                        identityFields: e.currentTarget.checked ? [...list, name] : list.filter((n) => n !== name),
                      });
                    }}
                  />
                  {name}
                </label>
              ))}
          </div>
          <div class="hint">Each needs a unique index on that one column.</div>
          {errorAt(errors, "passwordAuth", "identityFields") && (
            <div class="field-error" role="alert">
              {errorAt(errors, "passwordAuth", "identityFields")}
            </div>
          )}
        </fieldset>
      </section>

      <section class="option-section" aria-labelledby="opt-otp">
        <h2 id="opt-otp">One-time code by email</h2>
        <CheckOption
          label="Allow signing in with an emailed code"
          checked={otp.enabled}
          error={errorAt(errors, "otp", "enabled")}
          onChange={(v) => set("otp", { ...otp, enabled: v })}
        />
        <div class="option-grid">
          <NumberOption
            label="Code lifetime (seconds)"
            value={otp.duration}
            error={errorAt(errors, "otp", "duration")}
            onChange={(v) => set("otp", { ...otp, duration: v ?? 0 })}
          />
          <NumberOption
            label="Code length"
            value={otp.length}
            error={errorAt(errors, "otp", "length")}
            onChange={(v) => set("otp", { ...otp, length: v ?? 0 })}
          />
        </div>
      </section>

      <section class="option-section" aria-labelledby="opt-mfa">
        <h2 id="opt-mfa">Multi-factor authentication</h2>
        <CheckOption
          label="Require a second, different method"
          hint="Needs at least two of password, code and OAuth2 enabled"
          checked={mfa.enabled}
          error={errorAt(errors, "mfa", "enabled")}
          onChange={(v) => set("mfa", { ...mfa, enabled: v })}
        />
        <NumberOption
          label="MFA session lifetime (seconds)"
          value={mfa.duration}
          error={errorAt(errors, "mfa", "duration")}
          onChange={(v) => set("mfa", { ...mfa, duration: v ?? 0 })}
        />
        <RuleInput
          label="MFA rule"
          value={mfa.rule ?? ""}
          lockable={false}
          emptyMeans="Empty: every record needs the second step."
          error={
            props.ruleErrors["mfa.rule"] ??
            (errorAt(errors, "mfa", "rule") ? { message: errorAt(errors, "mfa", "rule")! } : undefined)
          }
          onChange={(v) => set("mfa", { ...mfa, rule: v ?? "" })}
        />
      </section>

      <section class="option-section" aria-labelledby="opt-oauth2">
        <h2 id="opt-oauth2">OAuth2</h2>
        <CheckOption
          label="Allow signing in with OAuth2 providers"
          checked={oauth2.enabled}
          error={errorAt(errors, "oauth2", "enabled")}
          onChange={(v) => set("oauth2", { ...oauth2, enabled: v })}
        />
        <ol class="provider-rows">
          {(oauth2.providers ?? []).map((p: Draft, index: number) => {
            const err = (key: string) => errorAt(errors, "oauth2", "providers", index, key);
            const update = (patch: Draft) =>
              set("oauth2", {
                ...oauth2,
                providers: oauth2.providers.map((q: Draft, i: number) => (i === index ? { ...q, ...patch } : q)),
              });
            return (
              <li key={index} class="provider-row" role="group" aria-label={`Provider ${p.name || index + 1}`}>
                <div class="option-grid">
                  {providers ? (
                    <SelectOption
                      label="Provider"
                      value={p.name ?? ""}
                      error={err("name")}
                      options={[
                        { value: "", label: "Choose…" },
                        ...providers.map((x) => ({ value: x.name, label: x.displayName || x.name })),
                      ]}
                      onChange={(v) => update({ name: v })}
                    />
                  ) : (
                    <TextOption label="Provider name" value={p.name} error={err("name")} onChange={(v) => update({ name: v })} />
                  )}
                  <TextOption label="Client ID" value={p.clientId} error={err("clientId")} onChange={(v) => update({ clientId: v })} />
                  <TextOption
                    label="Client secret"
                    secret
                    value={p.clientSecret}
                    placeholder={p._saved ? "Unchanged" : ""}
                    hint={p._saved ? "Stored secrets are never shown; leave empty to keep it." : undefined}
                    error={err("clientSecret")}
                    onChange={(v) => update({ clientSecret: v })}
                  />
                  <TextOption
                    label="Display name"
                    value={p.displayName}
                    error={err("displayName")}
                    onChange={(v) => update({ displayName: v })}
                  />
                </div>
                <details>
                  <summary>Custom endpoints (OIDC and self-hosted providers)</summary>
                  <div class="option-grid">
                    <TextOption label="Auth URL" value={p.authURL} error={err("authURL")} onChange={(v) => update({ authURL: v })} />
                    <TextOption label="Token URL" value={p.tokenURL} error={err("tokenURL")} onChange={(v) => update({ tokenURL: v })} />
                    <TextOption
                      label="User info URL"
                      value={p.userInfoURL}
                      error={err("userInfoURL")}
                      onChange={(v) => update({ userInfoURL: v })}
                    />
                  </div>
                </details>
                <button
                  type="button"
                  onClick={() =>
                    set("oauth2", { ...oauth2, providers: oauth2.providers.filter((_: unknown, i: number) => i !== index) })
                  }
                >
                  Remove provider
                </button>
              </li>
            );
          })}
        </ol>
        <div>
          <button
            type="button"
            onClick={() =>
              set("oauth2", {
                ...oauth2,
                providers: [...(oauth2.providers ?? []), { name: "", clientId: "", clientSecret: "", displayName: "" }],
              })
            }
          >
            Add provider
          </button>
        </div>
        <fieldset>
          <legend>Copy from the OAuth2 profile into fields on sign-up</legend>
          <div class="option-grid">
            {(["id", "name", "username", "avatarURL"] as const).map((key) => (
              <SelectOption
                key={key}
                label={`Profile ${key}`}
                value={oauth2.mappedFields?.[key] ?? ""}
                options={[{ value: "", label: "(none)" }, ...fieldNames.map((n) => ({ value: n, label: n }))]}
                error={errorAt(errors, "oauth2", "mappedFields", key)}
                onChange={(v) => set("oauth2", { ...oauth2, mappedFields: { ...(oauth2.mappedFields ?? {}), [key]: v } })}
              />
            ))}
          </div>
        </fieldset>
      </section>

      <section class="option-section" aria-labelledby="opt-tokens">
        <h2 id="opt-tokens">Token lifetimes (seconds)</h2>
        <div class="option-grid">
          {TOKENS.map((t) => (
            <NumberOption
              key={t.key}
              label={t.label}
              value={draft[t.key]?.duration}
              error={errorAt(errors, t.key, "duration")}
              onChange={(v) => set(t.key, { ...(draft[t.key] ?? {}), duration: v ?? 0 })}
            />
          ))}
        </div>
        <CheckOption
          label="Email a warning on sign-in from a new device"
          checked={draft.authAlert?.enabled}
          error={errorAt(errors, "authAlert", "enabled")}
          onChange={(v) => set("authAlert", { ...(draft.authAlert ?? {}), enabled: v })}
        />
      </section>

      <section class="option-section" aria-labelledby="opt-templates">
        <h2 id="opt-templates">Email templates</h2>
        <p class="hint">
          Placeholders: {"{APP_NAME}"}, {"{APP_URL}"}, {"{TOKEN}"}, {"{OTP}"}, {"{OTP_ID}"}, {"{ALERT_INFO}"},{" "}
          {"{RECORD:fieldName}"}.
        </p>
        {TEMPLATES.map((t) => {
          const [outer, inner] = t.path;
          const template = inner ? draft[outer]?.[inner] : draft[outer];
          const setTemplate = (patch: Draft) => {
            const next = { ...(template ?? {}), ...patch };
            if (inner) set(outer, { ...(draft[outer] ?? {}), [inner]: next });
            else set(outer, next);
          };
          return (
            <details key={t.label}>
              <summary>{t.label}</summary>
              <div class="stack">
                <TextOption
                  label={`${t.label}: subject`}
                  value={template?.subject}
                  error={errorAt(errors, ...t.path, "subject")}
                  onChange={(v) => setTemplate({ subject: v })}
                />
                <TextOption
                  label={`${t.label}: body (HTML)`}
                  multiline
                  value={template?.body}
                  error={errorAt(errors, ...t.path, "body")}
                  onChange={(v) => setTemplate({ body: v })}
                />
              </div>
            </details>
          );
        })}
      </section>
    </div>
  );
}
