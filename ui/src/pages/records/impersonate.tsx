// Issues a token for an auth record (superusers only). The SDK returns a separate client for
// it, so the superuser's own session is left alone; the token is only shown for copying.
import type { CollectionModel, RecordModel } from "pocketbase";
import { useState } from "preact/hooks";
import { errorMessage, pb } from "../../api";
import { Dialog, ErrorBanner } from "../../components/dialog";
import { Field } from "../../components/field";

export function ImpersonateDialog(props: { collection: CollectionModel; record: RecordModel; onClose: () => void }) {
  const { collection, record } = props;
  const [duration, setDuration] = useState("0");
  const [token, setToken] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const [copied, setCopied] = useState(false);

  async function issue(e: Event) {
    e.preventDefault();
    setBusy(true);
    setError("");
    setCopied(false);
    try {
      const client = await pb.collection(collection.id).impersonate(record.id, Number(duration) || 0);
      setToken(client.authStore.token);
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  }

  async function copy() {
    try {
      await navigator.clipboard.writeText(token);
      setCopied(true);
    } catch (err) {
      setError(`Copy failed (${errorMessage(err)}); select the token and copy it by hand.`);
    }
  }

  return (
    <Dialog title={`Impersonate ${record.email || record.id}`} open onClose={props.onClose}>
      <form class="stack" onSubmit={issue}>
        <p class="muted">
          Issues a non-refreshable auth token for this {collection.name} record. Your own session stays as it is.
        </p>
        <Field label="Duration in seconds" hint={`0 uses the collection's auth token duration`}>
          {(ids) => (
            <input id={ids.id} type="number" min={0} step={1} value={duration} onInput={(e) => setDuration(e.currentTarget.value)} />
          )}
        </Field>
        {error && <ErrorBanner message={error} />}
        {token && (
          <Field label="Token">
            {(ids) => (
              <textarea id={ids.id} class="mono" rows={4} readOnly value={token} onFocus={(e) => e.currentTarget.select()} />
            )}
          </Field>
        )}
        <div class="actions">
          {token && (
            <button type="button" onClick={copy}>
              {copied ? "Copied" : "Copy token"}
            </button>
          )}
          <button type="submit" class="primary" disabled={busy}>
            {token ? "Issue another token" : "Issue token"}
          </button>
        </div>
        <span class="visually-hidden" aria-live="polite">
          {copied ? "Token copied" : ""}
        </span>
      </form>
    </Dialog>
  );
}
