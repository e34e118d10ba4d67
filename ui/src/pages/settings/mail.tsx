// Mail settings: the sender, the SMTP server, and a test e-mail sent with the saved settings.
import { useEffect, useState } from "preact/hooks";
import { errorMessage, pb } from "../../api";
import { Dialog, ErrorBanner } from "../../components/dialog";
import { Field } from "../../components/field";
import type { Settings } from "./form";
import { NumberInput, SaveBar, SelectInput, TextInput, Toggle, getPath, useSettingsForm } from "./form";

const SMTP_PATHS = [
  "meta.senderName",
  "meta.senderAddress",
  "smtp.enabled",
  "smtp.host",
  "smtp.port",
  "smtp.username",
  "smtp.authMethod",
  "smtp.tls",
  "smtp.localName",
];

export function MailSection(props: { settings: Settings; onSaved: (s: Settings) => void }) {
  const { form, save, banner, status } = useSettingsForm(props.settings, props.onSaved);
  const [testing, setTesting] = useState(false);
  const enabled = !!getPath(form.draft, "smtp.enabled");

  return (
    <>
      <form
        class="stack settings-form"
        onSubmit={(e) => {
          e.preventDefault();
          save(SMTP_PATHS, ["smtp.password"]);
        }}
      >
        <div class="grid2">
          <TextInput form={form} path="meta.senderName" label="Sender name" />
          <TextInput form={form} path="meta.senderAddress" label="Sender address" type="email" />
        </div>
        <Toggle
          form={form}
          path="smtp.enabled"
          label="Send through an SMTP server"
          hint="Otherwise the server hands mail to the local sendmail command."
        />
        {enabled && (
          <fieldset>
            <legend>SMTP server</legend>
            <div class="grid3">
              <TextInput form={form} path="smtp.host" label="Host" />
              <NumberInput form={form} path="smtp.port" label="Port" min={1} />
              <SelectInput
                form={form}
                path="smtp.authMethod"
                label="Authentication"
                options={[
                  ["", "Automatic"],
                  ["PLAIN", "PLAIN"],
                  ["LOGIN", "LOGIN"],
                ]}
              />
            </div>
            <div class="grid2">
              <TextInput form={form} path="smtp.username" label="Username" />
              <TextInput
                form={form}
                path="smtp.password"
                label="Password"
                type="password"
                autocomplete="new-password"
                placeholder="Unchanged"
                hint="Never shown; type a new one to replace it."
              />
            </div>
            <Toggle form={form} path="smtp.tls" label="Use TLS from the start (implicit TLS, usually port 465)" />
            <TextInput
              form={form}
              path="smtp.localName"
              label="Local name (HELO)"
              hint="Optional; the server's host name when empty."
            />
          </fieldset>
        )}
        <SaveBar status={status} banner={banner} />
      </form>
      <div class="row section-extra">
        <button type="button" onClick={() => setTesting(true)}>
          Send test e-mail
        </button>
        <span class="hint">Uses the saved settings.</span>
      </div>
      <TestEmailDialog open={testing} onClose={() => setTesting(false)} />
    </>
  );
}

const TEMPLATES: [string, string][] = [
  ["verification", "Verification"],
  ["password-reset", "Password reset"],
  ["email-change", "E-mail change"],
  ["otp", "One-time password"],
  ["login-alert", "Login alert"],
];

function TestEmailDialog(props: { open: boolean; onClose: () => void }) {
  const [collections, setCollections] = useState<string[]>([]);
  const [collection, setCollection] = useState("_superusers");
  const [email, setEmail] = useState(pb.authStore.record?.email ?? "");
  const [template, setTemplate] = useState("verification");
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<{ ok: boolean; message: string } | null>(null);

  useEffect(() => {
    if (!props.open) return;
    setResult(null);
    pb.collections
      .getFullList({ filter: "type='auth'", sort: "name" })
      .then((list) => setCollections(list.map((c) => c.name)))
      .catch(() => setCollections(["_superusers"]));
  }, [props.open]);

  async function send(e: Event) {
    e.preventDefault();
    setBusy(true);
    setResult(null);
    try {
      await pb.settings.testEmail(collection, email, template);
      setResult({ ok: true, message: `A test e-mail was sent to ${email}.` });
    } catch (err) {
      setResult({ ok: false, message: errorMessage(err) });
    } finally {
      setBusy(false);
    }
  }

  return (
    <Dialog title="Send a test e-mail" open={props.open} onClose={props.onClose}>
      <form class="stack" onSubmit={send}>
        <Field label="Template">
          {(ids) => (
            <select id={ids.id} value={template} onChange={(e) => setTemplate(e.currentTarget.value)}>
              {TEMPLATES.map(([value, label]) => (
                <option key={value} value={value}>
                  {label}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Auth collection" hint="Its template and links are used.">
          {(ids) => (
            <select id={ids.id} value={collection} onChange={(e) => setCollection(e.currentTarget.value)}>
              {(collections.length ? collections : ["_superusers"]).map((name) => (
                <option key={name} value={name}>
                  {name}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="To">
          {(ids) => (
            <input id={ids.id} type="email" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
          )}
        </Field>
        {result && !result.ok && <ErrorBanner message={result.message} />}
        {result?.ok && (
          <p class="success" role="status">
            {result.message}
          </p>
        )}
        <div class="actions">
          <button type="button" onClick={props.onClose}>
            Close
          </button>
          <button type="submit" class="primary" disabled={busy || !email}>
            {busy ? "Sending…" : "Send"}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
