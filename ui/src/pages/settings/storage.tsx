// File storage: local disk by default, or an S3-compatible bucket. The S3 fields and the
// connection test are shared with the backups' own storage.
import { useState } from "preact/hooks";
import { errorMessage, pb } from "../../api";
import { ErrorBanner } from "../../components/dialog";
import type { Settings, SettingsForm } from "./form";
import { SaveBar, TextInput, Toggle, getPath, useSettingsForm } from "./form";

/** The paths saved for an S3 block at `prefix` ("s3", "backups.s3"); the secret is write-only. */
export function s3Paths(prefix: string): string[] {
  return ["enabled", "bucket", "region", "endpoint", "accessKey", "forcePathStyle"].map((k) => `${prefix}.${k}`);
}

export function S3Fields(props: { form: SettingsForm; prefix: string; enableLabel: string }) {
  const { form, prefix } = props;
  const enabled = !!getPath(form.draft, `${prefix}.enabled`);
  return (
    <>
      <Toggle form={form} path={`${prefix}.enabled`} label={props.enableLabel} />
      {enabled && (
        <div class="stack">
          <div class="grid2">
            <TextInput form={form} path={`${prefix}.endpoint`} label="Endpoint" placeholder="https://s3.example.com" />
            <TextInput form={form} path={`${prefix}.bucket`} label="Bucket" />
            <TextInput form={form} path={`${prefix}.region`} label="Region" />
            <TextInput form={form} path={`${prefix}.accessKey`} label="Access key" />
            <TextInput
              form={form}
              path={`${prefix}.secret`}
              label="Secret"
              type="password"
              autocomplete="new-password"
              placeholder="Unchanged"
              hint="Never shown; type a new one to replace it."
            />
          </div>
          <Toggle
            form={form}
            path={`${prefix}.forcePathStyle`}
            label="Path-style addressing (bucket in the path, as MinIO and some providers need)"
          />
        </div>
      )}
    </>
  );
}

/** Tries the saved S3 settings of `filesystem` ("storage" or "backups") and shows the outcome. */
export function S3Test(props: { filesystem: "storage" | "backups" }) {
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<{ ok: boolean; message: string } | null>(null);
  async function run() {
    setBusy(true);
    setResult(null);
    try {
      await pb.settings.testS3(props.filesystem);
      setResult({ ok: true, message: "The S3 connection works." });
    } catch (err) {
      setResult({ ok: false, message: errorMessage(err) });
    } finally {
      setBusy(false);
    }
  }
  return (
    <div class="stack section-extra">
      <div class="row">
        <button type="button" onClick={run} disabled={busy}>
          {busy ? "Testing…" : "Test S3 connection"}
        </button>
        <span class="hint">Uses the saved settings.</span>
      </div>
      {result && !result.ok && <ErrorBanner message={result.message} />}
      {result?.ok && (
        <p class="success" role="status">
          {result.message}
        </p>
      )}
    </div>
  );
}

export function StorageSection(props: { settings: Settings; onSaved: (s: Settings) => void }) {
  const { form, save, banner, status } = useSettingsForm(props.settings, props.onSaved);
  return (
    <>
      <form
        class="stack settings-form"
        onSubmit={(e) => {
          e.preventDefault();
          save(s3Paths("s3"), ["s3.secret"]);
        }}
      >
        <p class="muted">Uploaded files are kept on the server's disk unless an S3 bucket is set here.</p>
        <S3Fields form={form} prefix="s3" enableLabel="Store files in S3-compatible storage" />
        <SaveBar status={status} banner={banner} />
      </form>
      {props.settings.s3?.enabled && <S3Test filesystem="storage" />}
    </>
  );
}
