// The collection editor page (`#/collections/new`, `#/collections/<name>/edit`): name and type,
// fields and indexes (or the SQL query of a view), API rules checked while typing, auth options,
// save with the server's errors placed next to their controls, truncate and delete.
import type { CollectionModel } from "pocketbase";
import { useEffect, useMemo, useState } from "preact/hooks";
import { errorMessage, pb } from "../../api";
import { Confirm, ErrorBanner } from "../../components/dialog";
import { Field } from "../../components/field";
import { link } from "../../router";
import { AuthOptions } from "./auth-options";
import { errorAt, errorTreeOf, flattenErrors, withoutError, type ErrorTree } from "./errors";
import { FieldsEditor, newField, withKey, type FieldDraft } from "./fields";
import { IndexesEditor } from "./indexes";
import { AUTH_RULES, RULES, RuleInput, useRuleCheck, type RuleError } from "./rules";
import { TextOption } from "./inputs";

type CollectionType = "base" | "auth" | "view";
// The options of a collection are nested objects defined by the server; the editor keeps them
// loosely typed and sends them back as they are.
type Draft = Record<string, any> & { name: string; type: CollectionType; fields: FieldDraft[]; indexes: string[] };

const AUTH_KEYS = [
  "authRule",
  "manageRule",
  "authAlert",
  "oauth2",
  "passwordAuth",
  "mfa",
  "otp",
  "authToken",
  "passwordResetToken",
  "emailChangeToken",
  "verificationToken",
  "fileToken",
  "verificationTemplate",
  "resetPasswordTemplate",
  "confirmEmailChangeTemplate",
];

function draftOf(collection: CollectionModel | Record<string, any>, saved: boolean): Draft {
  const source = collection as Record<string, any>;
  const copy: Record<string, any> = JSON.parse(JSON.stringify(source));
  copy.fields = (source.fields ?? []).map((f: FieldDraft) => ({ ...withKey(f), _saved: saved }));
  copy.indexes = source.indexes ?? [];
  if (copy.oauth2?.providers) {
    copy.oauth2.providers = copy.oauth2.providers.map((p: object) => ({ ...p, _saved: saved }));
  }
  return copy as Draft;
}

/** The JSON the server takes for create/update (and the rule check): no editor-only keys. */
function payloadOf(draft: Draft, isNew: boolean): Record<string, any> {
  const out: Record<string, any> = { ...draft };
  out.fields = draft.fields.map(({ _key, _saved, ...field }) => field);
  for (const key of ["created", "updated", "system"]) delete out[key];
  if (isNew && !out.id) delete out.id;
  if (draft.type !== "auth") for (const key of AUTH_KEYS) delete out[key];
  if (draft.type !== "view") delete out.viewQuery;
  if (draft.type === "view") {
    // A view's fields come from its query, and it stores no records to write or index.
    delete out.fields;
    out.indexes = [];
    out.createRule = out.updateRule = out.deleteRule = null;
  }
  if (out.oauth2?.providers) {
    out.oauth2 = {
      ...out.oauth2,
      providers: out.oauth2.providers.map(({ _saved, ...p }: Record<string, any>) => {
        // A stored secret is never sent to us; an empty box means "keep it".
        if (!p.clientSecret) delete p.clientSecret;
        return p;
      }),
    };
  }
  return out;
}

/** The blank collection of a type (the server's scaffold), with created/updated as people expect. */
async function scaffoldOf(type: CollectionType): Promise<Draft> {
  let base: Record<string, any>;
  try {
    const scaffolds = await pb.send("/api/collections/meta/scaffolds", {});
    base = scaffolds[type] ?? { type, fields: [], indexes: [] };
  } catch {
    // An old server without scaffolds: the server adds the system fields on save anyway.
    base = { type, fields: [], indexes: [], listRule: null, viewRule: null, createRule: null, updateRule: null, deleteRule: null };
  }
  const draft = draftOf(base, false);
  draft.type = type;
  if (type !== "view") {
    for (const [name, onUpdate] of [
      ["created", false],
      ["updated", true],
    ] as const) {
      if (!draft.fields.some((f) => f.name === name)) {
        draft.fields.push({ ...newField("autodate", name), onCreate: true, onUpdate });
      }
    }
  } else {
    draft.viewQuery = draft.viewQuery ?? "";
  }
  return draft;
}

type Tab = "fields" | "query" | "rules" | "options";

export function CollectionEditor(props: {
  /** The collection being edited; none for a new one. */
  original?: CollectionModel;
  collections: CollectionModel[];
  onSaved: (collection: CollectionModel) => void;
  onDeleted: () => void;
  onCancel: () => void;
}) {
  const isNew = !props.original;
  const [draft, setDraft] = useState<Draft | null>(() => (props.original ? draftOf(props.original, true) : null));
  const [loadError, setLoadError] = useState("");
  const [tab, setTab] = useState<Tab>("fields");
  const [errors, setErrors] = useState<ErrorTree>({});
  const [banner, setBanner] = useState("");
  const [saving, setSaving] = useState(false);
  const [confirm, setConfirm] = useState<"delete" | "truncate" | null>(null);
  const [confirmText, setConfirmText] = useState("");
  const [confirmError, setConfirmError] = useState("");
  const [confirmBusy, setConfirmBusy] = useState(false);
  const [notice, setNotice] = useState("");

  useEffect(() => {
    if (!isNew) return;
    scaffoldOf("base")
      .then(setDraft)
      .catch((err) => setLoadError(errorMessage(err)));
  }, []);

  const payload = useMemo(() => (draft ? payloadOf(draft, isNew) : null), [draft]);
  const ruleCheck = useRuleCheck(payload);

  if (loadError) return <ErrorBanner message={loadError} />;
  if (!draft) return <p aria-live="polite">Loading…</p>;

  function patch(next: Partial<Draft>, clear?: (string | number)[]) {
    setDraft((d) => (d ? { ...d, ...next } : d));
    if (clear) setErrors((e) => withoutError(e, ...clear));
  }

  async function changeType(type: CollectionType) {
    const fresh = await scaffoldOf(type).catch(() => null);
    if (!fresh || !draft) return;
    // Keep what the person already set up; the scaffold brings the type's system fields.
    const own = type === "view" ? [] : draft.fields.filter((f) => !f.system && !fresh.fields.some((g) => g.name === f.name));
    setDraft({ ...fresh, name: draft.name, fields: [...fresh.fields, ...own] });
    if (type === "view") setTab("query");
    else if (tab === "query") setTab("fields");
  }

  async function save(e: Event) {
    e.preventDefault();
    if (!draft) return;
    setSaving(true);
    setBanner("");
    try {
      const body = payloadOf(draft, isNew);
      const saved = isNew
        ? await pb.collections.create(body)
        : await pb.collections.update(props.original!.id, body);
      setErrors({});
      props.onSaved(saved);
    } catch (err) {
      setErrors(errorTreeOf(err));
      setBanner(errorMessage(err));
    } finally {
      setSaving(false);
    }
  }

  async function runConfirmed() {
    if (!props.original) return;
    setConfirmBusy(true);
    setConfirmError("");
    try {
      if (confirm === "delete") {
        await pb.collections.delete(props.original.id);
        setConfirm(null);
        props.onDeleted();
      } else {
        await pb.collections.truncate(props.original.id);
        setConfirm(null);
        setNotice(`All records of ${props.original.name} were deleted.`);
      }
    } catch (err) {
      setConfirmError(errorMessage(err));
    } finally {
      setConfirmBusy(false);
    }
  }

  const ruleError = (key: string): RuleError | undefined => {
    const live = ruleCheck.errors[key];
    if (live) return live;
    const saved = errorAt(errors, key);
    return saved ? { message: saved } : undefined;
  };
  const tabs: { key: Tab; label: string }[] = [
    draft.type === "view" ? { key: "query", label: "Query" } : { key: "fields", label: "Fields" },
    { key: "rules", label: "API rules" },
    ...(draft.type === "auth" ? [{ key: "options" as Tab, label: "Auth options" }] : []),
  ];
  const tabHasErrors = (key: Tab): boolean => {
    const paths = flattenErrors(errors).map((e) => e.path.split(".")[0]);
    if (key === "fields") return paths.some((p) => p === "fields" || p === "indexes");
    if (key === "query") return paths.includes("viewQuery");
    if (key === "rules")
      return (
        paths.some((p) => p.endsWith("Rule")) ||
        Object.keys(ruleCheck.errors).some((k) => k.endsWith("Rule"))
      );
    return paths.some((p) => AUTH_KEYS.includes(p) && !p.endsWith("Rule"));
  };
  // Errors no control on the current tabs shows, so none is lost.
  const shown = new Set(["name", "type", "fields", "indexes", "viewQuery", ...RULES.map((r) => r.key), ...AUTH_KEYS]);
  const unplaced = flattenErrors(errors).filter((e) => !shown.has(e.path.split(".")[0]));

  return (
    <>
    <form class="editor stack" onSubmit={save} aria-labelledby="editor-title">
      <header class="editor-head">
        <h1 id="editor-title">{isNew ? "New collection" : `Edit ${props.original!.name}`}</h1>
        <div class="actions">
          <button type="button" onClick={props.onCancel}>
            Cancel
          </button>
          <button type="submit" class="primary" disabled={saving}>
            {isNew ? "Create collection" : "Save changes"}
          </button>
        </div>
      </header>
      {banner && <ErrorBanner message={banner} />}
      {unplaced.length > 0 && (
        <ul class="error-list" role="alert">
          {unplaced.map((e) => (
            <li key={e.path}>
              {e.path}: {e.message}
            </li>
          ))}
        </ul>
      )}
      {notice && (
        <p class="notice" role="status">
          {notice}
        </p>
      )}
      {props.original?.system && (
        <p class="hint">This is a system collection: its name and rules cannot change and it cannot be deleted.</p>
      )}

      <div class="option-grid">
        <Field label="Name" error={errorAt(errors, "name")}>
          {({ id, describedBy, invalid }) => (
            <input
              id={id}
              required
              autoFocus={isNew}
              value={draft.name}
              disabled={!!props.original?.system}
              placeholder="posts"
              aria-describedby={describedBy}
              aria-invalid={invalid}
              onInput={(e) => patch({ name: e.currentTarget.value }, ["name"])}
            />
          )}
        </Field>
        <Field
          label="Type"
          error={errorAt(errors, "type")}
          hint={isNew ? "Fixed once the collection exists." : "The type of a collection cannot change."}
        >
          {({ id, describedBy, invalid }) => (
            <select
              id={id}
              value={draft.type}
              disabled={!isNew}
              aria-describedby={describedBy}
              aria-invalid={invalid}
              onChange={(e) => changeType(e.currentTarget.value as CollectionType)}
            >
              <option value="base">Base</option>
              <option value="auth">Auth (users who sign in)</option>
              <option value="view">View (read-only SQL query)</option>
            </select>
          )}
        </Field>
      </div>

      <div role="tablist" aria-label="Collection settings" class="tabs">
        {tabs.map((t) => (
          <button
            key={t.key}
            type="button"
            role="tab"
            id={`tab-${t.key}`}
            aria-selected={tab === t.key}
            aria-controls={`panel-${t.key}`}
            class={tabHasErrors(t.key) ? "has-errors" : undefined}
            onClick={() => setTab(t.key)}
          >
            {t.label}
            {tabHasErrors(t.key) && <span aria-label=" (has errors)"> •</span>}
          </button>
        ))}
      </div>

      <div role="tabpanel" id={`panel-${tab}`} aria-labelledby={`tab-${tab}`} class="tab-panel">
        {tab === "fields" && (
          <div class="stack">
            <FieldsEditor
              fields={draft.fields}
              collectionType={draft.type}
              collections={props.collections}
              selfId={props.original?.id}
              errors={errors}
              onChange={(fields, structural) => {
                patch({ fields });
                // Errors are keyed by position: after a move or removal they point elsewhere.
                if (structural) setErrors((e) => withoutError(e, "fields"));
              }}
            />
            <IndexesEditor
              indexes={draft.indexes}
              fields={draft.fields}
              collectionName={draft.name}
              errors={errors}
              onChange={(indexes) => patch({ indexes }, ["indexes"])}
            />
          </div>
        )}

        {tab === "query" && (
          <div class="stack">
            <TextOption
              label="SQL query"
              multiline
              value={draft.viewQuery}
              placeholder="SELECT id, title, created FROM posts WHERE status = 'published'"
              hint="A SELECT returning an id column; the fields below come from it when saved."
              error={errorAt(errors, "viewQuery")}
              onChange={(v) => patch({ viewQuery: v }, ["viewQuery"])}
            />
            <ViewPreview query={draft.viewQuery ?? ""} />
            {draft.fields.length > 0 && (
              <div>
                <h2>Fields (from the saved query)</h2>
                <ul class="plain">
                  {draft.fields.map((f) => (
                    <li key={f._key}>
                      {f.name} <span class="badge">{f.type}</span>
                    </li>
                  ))}
                </ul>
              </div>
            )}
          </div>
        )}

        {tab === "rules" && (
          <div class="stack">
            <p class="hint">
              Superusers pass every rule. A rule is a filter expression, e.g. <code>@request.auth.id != ""</code> or{" "}
              <code>author = @request.auth.id</code>.{" "}
              {ruleCheck.available === "yes" && "Rules are checked as you type."}
              {ruleCheck.available === "no" && "This server cannot check rules before saving: errors show after saving."}
            </p>
            {ruleCheck.failure && <p class="hint">Checking the rules failed: {ruleCheck.failure}</p>}
            {RULES.map((r) => (
              <RuleInput
                key={r.key}
                label={r.label}
                hint={draft.type === "view" && r.key !== "listRule" && r.key !== "viewRule" ? "Views are read-only." : r.hint}
                value={draft[r.key]}
                lockedOnly={draft.type === "view" && r.key !== "listRule" && r.key !== "viewRule"}
                readOnly={!!props.original?.system}
                error={ruleError(r.key)}
                onChange={(v) => patch({ [r.key]: v }, [r.key])}
              />
            ))}
            {draft.type === "auth" &&
              AUTH_RULES.map((r) => (
                <RuleInput
                  key={r.key}
                  label={r.label}
                  hint={r.hint}
                  value={draft[r.key]}
                  readOnly={!!props.original?.system}
                  error={ruleError(r.key)}
                  onChange={(v) => patch({ [r.key]: v }, [r.key])}
                />
              ))}
          </div>
        )}

        {tab === "options" && draft.type === "auth" && (
          <AuthOptions
            draft={draft}
            fields={draft.fields}
            errors={errors}
            ruleErrors={ruleCheck.errors}
            onChange={(next) => patch(next, Object.keys(next))}
          />
        )}
      </div>

      {!isNew && !props.original!.system && (
        <section class="danger-zone" aria-labelledby="danger-heading">
          <h2 id="danger-heading">Danger zone</h2>
          <div class="row">
            {draft.type !== "view" && (
              <button type="button" onClick={() => openConfirm("truncate")}>
                Truncate…
              </button>
            )}
            <button type="button" class="danger" onClick={() => openConfirm("delete")}>
              Delete collection…
            </button>
          </div>
        </section>
      )}
      <p class="hint">
        {props.original ? (
          <a href={link("collections", props.original.name)}>Back to the collection</a>
        ) : (
          <a href={link("collections")}>Back to the list</a>
        )}
      </p>
    </form>
      {/* Outside the form: Enter in the confirmation box must not save the editor. */}
      {props.original && (
        <Confirm
          open={confirm !== null}
          title={confirm === "delete" ? `Delete ${props.original.name}?` : `Truncate ${props.original.name}?`}
          confirmLabel={confirm === "delete" ? "Delete collection" : "Delete all records"}
          busy={confirmBusy || (confirm === "delete" && confirmText !== props.original.name)}
          error={confirmError}
          onClose={() => setConfirm(null)}
          onConfirm={runConfirmed}
          message={
            confirm === "delete" ? (
              <div class="stack">
                <p>
                  This deletes the collection <strong>{props.original.name}</strong>, all its records and files. It cannot be
                  undone.
                </p>
                <Field label={`Type ${props.original.name} to confirm`}>
                  {({ id }) => (
                    <input
                      id={id}
                      autoComplete="off"
                      value={confirmText}
                      onInput={(e) => setConfirmText(e.currentTarget.value)}
                    />
                  )}
                </Field>
              </div>
            ) : (
              <p>
                This deletes every record of <strong>{props.original.name}</strong> (and their files); the collection itself
                stays. It cannot be undone.
              </p>
            )
          }
        />
      )}
    </>
  );

  function openConfirm(kind: "delete" | "truncate") {
    setConfirmText("");
    setConfirmError("");
    setNotice("");
    setConfirm(kind);
  }
}

/** Runs the view's query without saving (`dry-run-view`) and lists the fields it would have. */
function ViewPreview(props: { query: string }) {
  const [result, setResult] = useState<{ fields: { name: string; type: string }[]; sample: unknown[] } | null>(null);
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  async function run() {
    setBusy(true);
    setError("");
    try {
      setResult(await pb.send("/api/collections/meta/dry-run-view", { method: "POST", body: { query: props.query } }));
    } catch (err) {
      setResult(null);
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  }
  return (
    <div class="stack">
      <div>
        <button type="button" disabled={busy || !props.query.trim()} onClick={run}>
          Try the query
        </button>
      </div>
      {error && <ErrorBanner message={error} />}
      {result && (
        <div aria-live="polite">
          <h2>Fields the query gives</h2>
          <ul class="plain">
            {result.fields.map((f) => (
              <li key={f.name}>
                {f.name} <span class="badge">{f.type}</span>
              </li>
            ))}
          </ul>
          <p class="hint">{result.sample?.length ?? 0} sample rows.</p>
        </div>
      )}
    </div>
  );
}
