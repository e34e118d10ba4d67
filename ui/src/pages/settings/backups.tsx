// Backups: the list of backup archives (create, upload, download, restore, delete) and the
// automatic backup settings (schedule, how many to keep, S3 storage).
import { useEffect, useState } from "preact/hooks";
import { errorMessage, fieldErrors, pb } from "../../api";
import { Confirm, Dialog, ErrorBanner } from "../../components/dialog";
import { Field } from "../../components/field";
import { formatBytes, formatDateTime, parseServerDate } from "../../components/time";
import type { Settings } from "./form";
import { NumberInput, SaveBar, TextInput, useSettingsForm } from "./form";
import { S3Fields, S3Test, s3Paths } from "./storage";

interface Backup {
  key: string;
  size: number;
  modified: string;
}

export function BackupsSection(props: { settings: Settings; onSaved: (s: Settings) => void }) {
  return (
    <div class="stack">
      <BackupList />
      <h2 class="section-title">Automatic backups</h2>
      <BackupSettings settings={props.settings} onSaved={props.onSaved} />
    </div>
  );
}

function BackupList() {
  const [backups, setBackups] = useState<Backup[] | null>(null);
  const [error, setError] = useState("");
  const [creating, setCreating] = useState(false);
  const [pending, setPending] = useState<{ kind: "delete" | "restore"; key: string } | null>(null);
  const [pendingBusy, setPendingBusy] = useState(false);
  const [pendingError, setPendingError] = useState("");
  const [restoring, setRestoring] = useState("");
  // The health check tells a superuser whether a backup can start now (not while another backup
  // or a restore runs, nor on a database the server cannot archive itself).
  const [canBackup, setCanBackup] = useState(true);

  async function load() {
    try {
      const list = await pb.backups.getFullList();
      // The server's order is not guaranteed; newest first is what people look for.
      list.sort((a, b) => parseServerDate(b.modified) - parseServerDate(a.modified));
      setBackups(list);
      setError("");
    } catch (err) {
      setError(`The backups could not be listed: ${errorMessage(err)}`);
    }
  }
  useEffect(() => {
    load();
    pb.health.check().then(
      (health) => setCanBackup(health.data?.canBackup !== false),
      () => setCanBackup(true),
    );
  }, []);

  async function download(key: string) {
    setError("");
    try {
      // The download URL carries a short-lived file token: the Authorization header cannot
      // ride along with a plain link.
      const token = await pb.files.getToken();
      const a = document.createElement("a");
      a.href = pb.backups.getDownloadURL(token, key);
      a.download = key;
      document.body.appendChild(a);
      a.click();
      a.remove();
    } catch (err) {
      setError(`The download could not start: ${errorMessage(err)}`);
    }
  }

  async function confirmPending() {
    if (!pending) return;
    setPendingBusy(true);
    setPendingError("");
    try {
      if (pending.kind === "delete") {
        await pb.backups.delete(pending.key);
        setPending(null);
        await load();
      } else {
        await pb.backups.restore(pending.key);
        setPending(null);
        setRestoring(pending.key);
        await reloadWhenBack();
      }
    } catch (err) {
      setPendingError(errorMessage(err));
    } finally {
      setPendingBusy(false);
    }
  }

  return (
    <div class="stack">
      <div class="row">
        <button type="button" class="primary" onClick={() => setCreating(true)}>
          Create backup
        </button>
        <UploadBackup onUploaded={load} />
      </div>
      {error && <ErrorBanner message={error} />}
      {!canBackup && !restoring && (
        <p role="status" class="notice">
          The server cannot make a backup right now: one is already running, or its database is backed up with
          the database's own tools.
        </p>
      )}
      {restoring && (
        <p role="status" class="notice">
          Restoring {restoring}. The server restarts with the restored data; this page reloads when it is back.
        </p>
      )}
      {backups === null && !error && <p class="muted">Loading…</p>}
      {backups && (
        <table class="data" aria-label="Backups">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Size</th>
              <th scope="col">Modified</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {backups.map((b) => (
              <tr key={b.key}>
                <td>{b.key}</td>
                <td>{formatBytes(b.size)}</td>
                <td>{formatDateTime(b.modified)}</td>
                <td>
                  <div class="row-actions">
                    <button type="button" aria-label={`Download ${b.key}`} onClick={() => download(b.key)}>
                      Download
                    </button>
                    <button
                      type="button"
                      aria-label={`Restore ${b.key}`}
                      onClick={() => {
                        setPendingError("");
                        setPending({ kind: "restore", key: b.key });
                      }}
                    >
                      Restore
                    </button>
                    <button
                      type="button"
                      aria-label={`Delete ${b.key}`}
                      onClick={() => {
                        setPendingError("");
                        setPending({ kind: "delete", key: b.key });
                      }}
                    >
                      Delete
                    </button>
                  </div>
                </td>
              </tr>
            ))}
            {backups.length === 0 && (
              <tr>
                <td colSpan={4} class="muted">
                  No backups yet.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      )}
      <CreateBackupDialog
        open={creating}
        onClose={() => setCreating(false)}
        onCreated={() => {
          setCreating(false);
          load();
        }}
      />
      <Confirm
        open={pending !== null}
        title={pending?.kind === "restore" ? "Restore this backup?" : "Delete this backup?"}
        message={
          pending?.kind === "restore" ? (
            <p>
              All current data is replaced by <strong>{pending.key}</strong> and the server restarts. Changes made
              since the backup are lost.
            </p>
          ) : (
            <p>
              <strong>{pending?.key}</strong> is removed for good.
            </p>
          )
        }
        confirmLabel={pending?.kind === "restore" ? "Restore" : "Delete"}
        busy={pendingBusy}
        error={pendingError}
        onConfirm={confirmPending}
        onClose={() => setPending(null)}
      />
    </div>
  );
}

/** Waits for the server to come back from a restore, then reloads the UI on the restored data. */
async function reloadWhenBack() {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  // The restore starts about a second after the answer; give the old process time to stop.
  await sleep(3000);
  for (let attempt = 0; attempt < 60; attempt++) {
    try {
      await pb.health.check();
      break;
    } catch {
      await sleep(1000);
    }
  }
  window.location.reload();
}

function CreateBackupDialog(props: { open: boolean; onClose: () => void; onCreated: () => void }) {
  const [name, setName] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  const [nameError, setNameError] = useState("");

  useEffect(() => {
    if (props.open) {
      setName("");
      setError("");
      setNameError("");
    }
  }, [props.open]);

  async function create(e: Event) {
    e.preventDefault();
    setBusy(true);
    setError("");
    setNameError("");
    try {
      await pb.backups.create(name.trim());
      props.onCreated();
    } catch (err) {
      const fields = fieldErrors(err);
      if (fields.name) setNameError(fields.name);
      else setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <Dialog title="Create a backup" open={props.open} onClose={props.onClose}>
      <form class="stack" onSubmit={create}>
        <Field
          label="Name (optional)"
          error={nameError}
          hint="Lowercase letters, digits, - and _, ending in .zip. A dated name is chosen when empty."
        >
          {(ids) => (
            <input
              id={ids.id}
              type="text"
              value={name}
              placeholder="before_upgrade.zip"
              aria-invalid={ids.invalid}
              aria-describedby={ids.describedBy}
              onInput={(e) => setName(e.currentTarget.value)}
            />
          )}
        </Field>
        {error && <ErrorBanner message={error} />}
        <div class="actions">
          <button type="button" onClick={props.onClose}>
            Cancel
          </button>
          <button type="submit" class="primary" disabled={busy}>
            {busy ? "Creating…" : "Create"}
          </button>
        </div>
      </form>
    </Dialog>
  );
}

function UploadBackup(props: { onUploaded: () => void }) {
  const [file, setFile] = useState<File | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  const [inputKey, setInputKey] = useState(0);

  async function upload() {
    if (!file) return;
    setBusy(true);
    setError("");
    try {
      await pb.backups.upload({ file });
      setFile(null);
      setInputKey((k) => k + 1);
      props.onUploaded();
    } catch (err) {
      const fields = fieldErrors(err);
      setError(fields.file ? `${errorMessage(err)} ${fields.file}` : errorMessage(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <div class="row upload">
      <input
        key={inputKey}
        type="file"
        accept=".zip,application/zip"
        aria-label="Backup archive (.zip) to upload"
        onChange={(e) => setFile(e.currentTarget.files?.[0] ?? null)}
      />
      <button type="button" disabled={!file || busy} onClick={upload}>
        {busy ? "Uploading…" : "Upload backup"}
      </button>
      {error && <ErrorBanner message={error} />}
    </div>
  );
}

function BackupSettings(props: { settings: Settings; onSaved: (s: Settings) => void }) {
  const { form, save, banner, status } = useSettingsForm(props.settings, props.onSaved);
  return (
    <>
      <form
        class="stack settings-form"
        onSubmit={(e) => {
          e.preventDefault();
          save(["backups.cron", "backups.cronMaxKeep", ...s3Paths("backups.s3")], ["backups.s3.secret"]);
        }}
      >
        <div class="grid2">
          <TextInput
            form={form}
            path="backups.cron"
            label="Schedule (cron expression)"
            placeholder="0 0 * * *"
            hint="Five fields in UTC, e.g. 0 3 * * * for 03:00 daily. Empty turns automatic backups off."
          />
          <NumberInput form={form} path="backups.cronMaxKeep" label="Automatic backups to keep" min={1} />
        </div>
        <S3Fields form={form} prefix="backups.s3" enableLabel="Keep backups in S3-compatible storage" />
        <SaveBar status={status} banner={banner} />
      </form>
      {props.settings.backups?.s3?.enabled && <S3Test filesystem="backups" />}
    </>
  );
}
