// A modal dialog on the native <dialog> element (focus trapping, Escape and the backdrop come
// from the browser), and a yes/no confirmation built on it.
import type { ComponentChildren } from "preact";
import { useEffect, useRef } from "preact/hooks";

export function Dialog(props: {
  title: string;
  open: boolean;
  onClose: () => void;
  children: ComponentChildren;
  wide?: boolean;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (props.open && !dialog.open) dialog.showModal();
    if (!props.open && dialog.open) dialog.close();
  }, [props.open]);
  return (
    <dialog
      ref={ref}
      class={props.wide ? "dialog wide" : "dialog"}
      aria-label={props.title}
      onClose={props.onClose}
      onCancel={(e) => {
        e.preventDefault();
        props.onClose();
      }}
    >
      {props.open && (
        <>
          <header class="dialog-head">
            <h2>{props.title}</h2>
            <button type="button" class="icon" aria-label="Close" onClick={props.onClose}>
              ×
            </button>
          </header>
          <div class="dialog-body">{props.children}</div>
        </>
      )}
    </dialog>
  );
}

/** Asks before something that cannot be undone; `onConfirm` may be async (errors are shown). */
export function Confirm(props: {
  title: string;
  message: ComponentChildren;
  confirmLabel: string;
  open: boolean;
  busy?: boolean;
  error?: string;
  onConfirm: () => void;
  onClose: () => void;
}) {
  return (
    <Dialog title={props.title} open={props.open} onClose={props.onClose}>
      <div class="stack">
        <div>{props.message}</div>
        {props.error && <ErrorBanner message={props.error} />}
        <div class="actions">
          <button type="button" onClick={props.onClose}>
            Cancel
          </button>
          <button type="button" class="danger" disabled={props.busy} onClick={props.onConfirm}>
            {props.confirmLabel}
          </button>
        </div>
      </div>
    </Dialog>
  );
}

/** An error announced to screen readers. */
export function ErrorBanner(props: { message: string }) {
  return (
    <div class="error-banner" role="alert">
      {props.message}
    </div>
  );
}
