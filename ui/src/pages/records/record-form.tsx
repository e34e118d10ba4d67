// The dialog that creates, edits (and deletes) one record; for view collections it only shows it.
import type { CollectionField, CollectionModel, RecordModel } from "pocketbase";
import { useEffect, useRef, useState } from "preact/hooks";
import { errorMessage, fieldErrors, isSuperuser, pb } from "../../api";
import { Confirm, Dialog, ErrorBanner } from "../../components/dialog";
import { Field } from "../../components/field";
import { asList, isMultiple, isSecret } from "./format";
import { FieldInput, jsonError, type FileChanges } from "./inputs";
import { ImpersonateDialog } from "./impersonate";

/** The fields the form shows an input for, in the collection's order. */
function formFields(collection: CollectionModel): CollectionField[] {
  return collection.fields.filter((f) => f.name !== "id" && !isSecret(collection, f));
}

function initialValue(field: CollectionField, record?: RecordModel): any {
  const value = record?.[field.name];
  switch (field.type) {
    case "json":
      return value === null || value === undefined ? "" : JSON.stringify(value, null, 2);
    case "select":
    case "relation":
    case "file":
      return isMultiple(field) ? asList(value) : (value ?? "");
    case "bool":
      return !!value;
    case "number":
      return value ?? "";
    case "geoPoint":
      return value ?? { lon: 0, lat: 0 };
    default:
      return value ?? "";
  }
}

export function RecordForm(props: {
  collection: CollectionModel;
  /** The record to edit; absent to create one. */
  record?: RecordModel;
  onClose: () => void;
  onSaved: (record: RecordModel) => void;
  onDeleted: (id: string) => void;
}) {
  const { collection, record } = props;
  const readOnly = collection.type === "view";
  const isAuth = collection.type === "auth";
  const fields = formFields(collection);
  const [values, setValues] = useState<Record<string, any>>(() => {
    const out: Record<string, any> = { id: record?.id ?? "", password: "", passwordConfirm: "" };
    for (const f of fields) out[f.name] = initialValue(f, record);
    return out;
  });
  const [files, setFiles] = useState<Record<string, FileChanges>>({});
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [banner, setBanner] = useState("");
  const [busy, setBusy] = useState(false);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const [deleteError, setDeleteError] = useState("");
  const [impersonating, setImpersonating] = useState(false);
  const formRef = useRef<HTMLFormElement>(null);
  // Bumped by a failed save so the first error is brought into view (the form scrolls).
  const [failures, setFailures] = useState(0);
  useEffect(() => {
    if (!failures) return;
    const first = formRef.current?.querySelector<HTMLElement>(".field-error, .error-banner");
    first?.scrollIntoView({ block: "center" });
    formRef.current?.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus({ preventScroll: true });
  }, [failures]);

  const set = (name: string) => (value: any) => setValues((old) => ({ ...old, [name]: value }));

  function buildBody(): Record<string, any> | null {
    const body: Record<string, any> = {};
    const problems: Record<string, string> = {};
    if (!record && values.id.trim()) body.id = values.id.trim();
    for (const field of fields) {
      const value = values[field.name];
      switch (field.type) {
        case "autodate":
          break; // the server sets these
        case "json": {
          const problem = jsonError(value);
          if (problem) problems[field.name] = problem;
          else body[field.name] = value.trim() ? JSON.parse(value) : null;
          break;
        }
        case "number":
          body[field.name] = value === "" ? 0 : value;
          break;
        case "file": {
          const changes = files[field.name];
          if (!changes) break;
          if (isMultiple(field)) {
            if (changes.added.length) body[field.name + "+"] = changes.added;
            if (changes.removed.length) body[field.name + "-"] = changes.removed;
          } else if (changes.added.length) {
            body[field.name] = changes.added[0];
          } else if (changes.removed.length) {
            body[field.name] = "";
          }
          break;
        }
        default:
          body[field.name] = value;
      }
    }
    // An empty password on edit keeps the current one.
    if (isAuth && (values.password || values.passwordConfirm || !record)) {
      body.password = values.password;
      body.passwordConfirm = values.passwordConfirm;
    }
    if (Object.keys(problems).length) {
      setErrors(problems);
      setBanner("Fix the fields marked below.");
      setFailures((n) => n + 1);
      return null;
    }
    return body;
  }

  async function save(e: Event) {
    e.preventDefault();
    if (readOnly || busy) return;
    const body = buildBody();
    if (!body) return;
    setBusy(true);
    setErrors({});
    setBanner("");
    try {
      const service = pb.collection(collection.id);
      const saved = record ? await service.update(record.id, body) : await service.create(body);
      props.onSaved(saved);
    } catch (err) {
      const perField = fieldErrors(err);
      setErrors(perField);
      // Errors on keys without an input of their own (or none at all) go in the banner.
      const shown = new Set(["id", "password", "passwordConfirm", ...fields.map((f) => f.name)]);
      const orphans = Object.entries(perField).filter(([key]) => !shown.has(key.replace(/[+-]$/, "")));
      setBanner([errorMessage(err), ...orphans.map(([key, message]) => `${key}: ${message}`)].join(" "));
      setFailures((n) => n + 1);
    } finally {
      setBusy(false);
    }
  }

  async function remove() {
    if (!record) return;
    setBusy(true);
    setDeleteError("");
    try {
      await pb.collection(collection.id).delete(record.id);
      setConfirmDelete(false);
      props.onDeleted(record.id);
    } catch (err) {
      setDeleteError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  }

  // Auth records: a new password and its confirmation, where the (never returned) password
  // field sits in the collection.
  const passwordInputs = (
    <div class="grid-2" key="password">
      <FieldInput
        field={{ id: "", name: "password", type: "password", system: true, hidden: true, presentable: false, required: !record, help: record ? "Leave empty to keep the current password" : "" }}
        value={values.password}
        onChange={set("password")}
        error={errors.password}
      />
      <FieldInput
        field={{ id: "", name: "passwordConfirm", type: "password", system: true, hidden: true, presentable: false, required: !record }}
        value={values.passwordConfirm}
        onChange={set("passwordConfirm")}
        error={errors.passwordConfirm}
      />
    </div>
  );

  const title = readOnly ? `${collection.name} record` : record ? `Edit ${collection.name} record` : `New ${collection.name} record`;
  const fieldError = (name: string) => errors[name] ?? errors[name + "+"] ?? errors[name + "-"];
  return (
    <Dialog title={title} open onClose={props.onClose} wide>
      <form ref={formRef} class="stack record-form" noValidate onSubmit={save}>
        {banner && <ErrorBanner message={banner} />}
        <Field label="id" error={errors.id} hint={record ? undefined : "Leave empty to generate one"}>
          {(ids) => (
            <input
              id={ids.id}
              class="mono"
              value={values.id}
              readOnly={!!record || readOnly}
              placeholder={record ? undefined : "auto"}
              aria-describedby={ids.describedBy}
              aria-invalid={ids.invalid}
              onInput={(e) => set("id")(e.currentTarget.value)}
            />
          )}
        </Field>
        {collection.fields.map((field) =>
          isAuth && field.name === "password" ? (
            !readOnly && passwordInputs
          ) : fields.includes(field) ? (
            <FieldInput
              key={field.name}
              field={field}
              value={values[field.name]}
              onChange={set(field.name)}
              error={fieldError(field.name)}
              disabled={readOnly}
              record={record}
              files={files[field.name]}
              onFiles={(changes) => setFiles((old) => ({ ...old, [field.name]: changes }))}
            />
          ) : null,
        )}
        <div class="actions form-actions">
          {record && !readOnly && (
            <button type="button" class="danger left" onClick={() => setConfirmDelete(true)}>
              Delete record
            </button>
          )}
          {record && isAuth && isSuperuser() && (
            <button type="button" onClick={() => setImpersonating(true)}>
              Impersonate
            </button>
          )}
          <button type="button" onClick={props.onClose}>
            {readOnly ? "Close" : "Cancel"}
          </button>
          {!readOnly && (
            <button type="submit" class="primary" disabled={busy}>
              {record ? "Save changes" : "Create record"}
            </button>
          )}
        </div>
      </form>
      {record && (
        <Confirm
          title="Delete record"
          message={
            <>
              Delete record <code>{record.id}</code> of <strong>{collection.name}</strong>? This cannot be undone.
            </>
          }
          confirmLabel="Delete"
          open={confirmDelete}
          busy={busy}
          error={deleteError}
          onConfirm={remove}
          onClose={() => setConfirmDelete(false)}
        />
      )}
      {record && impersonating && <ImpersonateDialog collection={collection} record={record} onClose={() => setImpersonating(false)} />}
    </Dialog>
  );
}
