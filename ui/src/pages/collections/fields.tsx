// The fields part of the collection editor: one row per field (rename, move, remove, options),
// every PocketBase field type with its own options, and "Add field".
import type { CollectionField, CollectionModel } from "pocketbase";
import { useState } from "preact/hooks";
import { CheckOption, ListOption, NumberOption, SelectOption, TextOption } from "./inputs";
import { errorAt, type ErrorTree } from "./errors";

/** A field as the editor holds it: the wire object plus a key that survives renames and moves. */
export type FieldDraft = Partial<CollectionField> & { name: string; type: string; _key: number; _saved?: boolean };

export const FIELD_TYPES: { type: string; label: string; authOnly?: boolean }[] = [
  { type: "text", label: "Plain text" },
  { type: "editor", label: "Rich editor" },
  { type: "number", label: "Number" },
  { type: "bool", label: "Bool" },
  { type: "email", label: "Email" },
  { type: "url", label: "URL" },
  { type: "date", label: "Date" },
  { type: "autodate", label: "Autodate" },
  { type: "select", label: "Select" },
  { type: "file", label: "File" },
  { type: "relation", label: "Relation" },
  { type: "json", label: "JSON" },
  { type: "geoPoint", label: "Geo point" },
  { type: "password", label: "Password", authOnly: true },
];

let nextKey = 1;
export function withKey(field: Partial<CollectionField> & { name: string; type: string }): FieldDraft {
  return { ...field, _key: nextKey++ };
}

/** A new field of `type` with the options the server expects spelled out. */
export function newField(type: string, name: string): FieldDraft {
  const common = { name, type, hidden: false, presentable: false, system: false };
  const byType: Record<string, object> = {
    text: { required: false, min: 0, max: 0, pattern: "", autogeneratePattern: "", primaryKey: false },
    editor: { required: false, maxSize: 0, convertURLs: false },
    number: { required: false, min: null, max: null, onlyInt: false },
    bool: { required: false },
    email: { required: false, exceptDomains: [], onlyDomains: [] },
    url: { required: false, exceptDomains: [], onlyDomains: [] },
    date: { required: false, min: "", max: "" },
    autodate: { onCreate: true, onUpdate: false },
    select: { required: false, values: [], maxSelect: 1 },
    file: { required: false, maxSelect: 1, maxSize: 0, mimeTypes: [], thumbs: [], protected: false },
    relation: { required: false, collectionId: "", cascadeDelete: false, minSelect: 0, maxSelect: 1 },
    json: { required: false, maxSize: 0 },
    geoPoint: { required: false },
    password: { required: false, min: 0, max: 0, pattern: "", cost: 0 },
  };
  return withKey({ ...common, ...(byType[type] ?? {}) });
}

/** A name not yet taken: `field`, `field2`, … */
export function freeName(fields: FieldDraft[], base: string): string {
  const taken = new Set(fields.map((f) => f.name.toLowerCase()));
  if (!taken.has(base)) return base;
  for (let n = 2; ; n++) if (!taken.has(`${base}${n}`)) return `${base}${n}`;
}

function typeLabel(type: string) {
  return FIELD_TYPES.find((t) => t.type === type)?.label ?? type;
}

export function FieldsEditor(props: {
  fields: FieldDraft[];
  collectionType: string;
  collections: CollectionModel[];
  selfId?: string;
  errors: ErrorTree;
  onChange: (fields: FieldDraft[], structural: boolean) => void;
}) {
  const { fields } = props;
  const [newType, setNewType] = useState("text");
  // Rows whose options are open; a new row opens so its options can be set at once.
  const [open, setOpen] = useState<Set<number>>(new Set());
  const [focusKey, setFocusKey] = useState<number | undefined>();

  function update(index: number, patch: Partial<FieldDraft>) {
    props.onChange(
      fields.map((f, i) => (i === index ? { ...f, ...patch } : f)),
      false,
    );
  }
  function move(index: number, delta: number) {
    const target = index + delta;
    if (target < 0 || target >= fields.length) return;
    const next = fields.slice();
    [next[index], next[target]] = [next[target], next[index]];
    props.onChange(next, true);
  }
  function remove(index: number) {
    props.onChange(
      fields.filter((_, i) => i !== index),
      true,
    );
  }
  function add() {
    const field = newField(newType, freeName(fields, "field"));
    // New fields go before the trailing created/updated timestamps, as people expect those last.
    let at = fields.length;
    while (at > 0 && fields[at - 1].type === "autodate" && ["created", "updated"].includes(fields[at - 1].name)) at--;
    const next = fields.slice();
    next.splice(at, 0, field);
    setOpen(new Set(open).add(field._key));
    setFocusKey(field._key);
    props.onChange(next, true);
  }

  const types = FIELD_TYPES.filter((t) => !t.authOnly || props.collectionType === "auth");
  return (
    <div class="stack">
      <ol class="field-rows">
        {fields.map((field, index) => {
          const isOpen = open.has(field._key);
          const err = (key: string) => errorAt(props.errors, "fields", index, key);
          const rowError = errorAt(props.errors, "fields", index);
          return (
            <li key={field._key} class="field-row" role="group" aria-label={`Field ${field.name || "(unnamed)"}`}>
              <div class="field-row-head">
                <div class="move">
                  <button
                    type="button"
                    class="icon small"
                    aria-label={`Move ${field.name} up`}
                    disabled={index === 0}
                    onClick={() => move(index, -1)}
                  >
                    ↑
                  </button>
                  <button
                    type="button"
                    class="icon small"
                    aria-label={`Move ${field.name} down`}
                    disabled={index === fields.length - 1}
                    onClick={() => move(index, 1)}
                  >
                    ↓
                  </button>
                </div>
                <span class="badge" title={field.type}>
                  {typeLabel(field.type)}
                </span>
                <div class="grow">
                  <input
                    aria-label={`Name of field ${index + 1}`}
                    value={field.name}
                    disabled={!!field.system}
                    aria-invalid={!!err("name")}
                    ref={(el) => {
                      if (el && focusKey === field._key) {
                        el.focus();
                        el.select();
                        setFocusKey(undefined);
                      }
                    }}
                    onInput={(e) => update(index, { name: e.currentTarget.value })}
                  />
                  {err("name") && (
                    <div class="field-error" role="alert">
                      {err("name")}
                    </div>
                  )}
                </div>
                {field.system && <span class="badge muted">system</span>}
                {field.hidden && <span class="badge muted">hidden</span>}
                {field.type !== "autodate" && (
                  <label class="check">
                    <input
                      type="checkbox"
                      checked={!!field.required}
                      onChange={(e) => update(index, { required: e.currentTarget.checked })}
                    />
                    Required
                  </label>
                )}
                <button
                  type="button"
                  aria-expanded={isOpen}
                  onClick={() => {
                    const next = new Set(open);
                    if (isOpen) next.delete(field._key);
                    else next.add(field._key);
                    setOpen(next);
                  }}
                >
                  Options
                </button>
                <button
                  type="button"
                  class="icon"
                  aria-label={`Remove field ${field.name}`}
                  title={field.system ? "System fields cannot be removed" : "Remove"}
                  disabled={!!field.system}
                  onClick={() => remove(index)}
                >
                  ×
                </button>
              </div>
              {rowError && (
                <div class="field-error" role="alert">
                  {rowError}
                </div>
              )}
              {isOpen && (
                <div class="field-options">
                  <TypeOptions
                    field={field}
                    collections={props.collections}
                    selfId={props.selfId}
                    collectionType={props.collectionType}
                    err={err}
                    update={(patch) => update(index, patch)}
                  />
                  <div class="option-row">
                    <CheckOption
                      label="Hidden"
                      hint="Left out of API answers; only superusers filter by it"
                      checked={field.hidden}
                      disabled={field.name === "id"}
                      error={err("hidden")}
                      onChange={(v) => update(index, { hidden: v })}
                    />
                    <CheckOption
                      label="Presentable"
                      hint="Shown for this record in relation pickers"
                      checked={field.presentable}
                      error={err("presentable")}
                      onChange={(v) => update(index, { presentable: v })}
                    />
                  </div>
                  {field.type !== "autodate" && (
                    <TextOption
                      label="Help text"
                      value={field.help}
                      error={err("help")}
                      onChange={(v) => update(index, { help: v })}
                    />
                  )}
                </div>
              )}
            </li>
          );
        })}
      </ol>
      {props.collectionType !== "view" && (
        <div class="row">
          <select class="auto-width" aria-label="New field type" value={newType} onChange={(e) => setNewType(e.currentTarget.value)}>
            {types.map((t) => (
              <option key={t.type} value={t.type}>
                {t.label}
              </option>
            ))}
          </select>
          <button type="button" onClick={add}>
            Add field
          </button>
        </div>
      )}
    </div>
  );
}

/** The options that belong to one field type. */
function TypeOptions(props: {
  field: FieldDraft;
  collections: CollectionModel[];
  selfId?: string;
  collectionType: string;
  err: (key: string) => string | undefined;
  update: (patch: Partial<FieldDraft>) => void;
}) {
  const { field: f, err, update } = props;
  switch (f.type) {
    case "text":
      return (
        <div class="option-grid">
          <NumberOption label="Min length" value={f.min} error={err("min")} onChange={(v) => update({ min: v })} />
          <NumberOption
            label="Max length"
            value={f.max}
            error={err("max")}
            hint="0 means the default, 5000."
            onChange={(v) => update({ max: v })}
          />
          <TextOption
            label="Pattern"
            value={f.pattern}
            placeholder="^[a-z0-9]+$"
            error={err("pattern")}
            onChange={(v) => update({ pattern: v })}
          />
          <TextOption
            label="Autogenerate pattern"
            value={f.autogeneratePattern}
            placeholder="[a-z0-9]{15}"
            error={err("autogeneratePattern")}
            hint="Fills an empty value on create."
            onChange={(v) => update({ autogeneratePattern: v })}
          />
        </div>
      );
    case "editor":
      return (
        <div class="option-grid">
          <NumberOption
            label="Max size (bytes)"
            value={f.maxSize}
            error={err("maxSize")}
            hint="0 means the default, 5 MiB."
            onChange={(v) => update({ maxSize: v })}
          />
          <CheckOption
            label="Keep URLs as written (convertURLs)"
            checked={f.convertURLs}
            error={err("convertURLs")}
            onChange={(v) => update({ convertURLs: v })}
          />
        </div>
      );
    case "number":
      return (
        <div class="option-grid">
          <NumberOption label="Min" value={f.min} nullable step="any" error={err("min")} onChange={(v) => update({ min: v })} />
          <NumberOption label="Max" value={f.max} nullable step="any" error={err("max")} onChange={(v) => update({ max: v })} />
          <CheckOption label="Integers only" checked={f.onlyInt} error={err("onlyInt")} onChange={(v) => update({ onlyInt: v })} />
        </div>
      );
    case "email":
    case "url":
      return (
        <div class="option-grid">
          <ListOption
            label="Only domains"
            value={f.onlyDomains}
            error={err("onlyDomains")}
            onChange={(v) => update({ onlyDomains: v })}
          />
          <ListOption
            label="Except domains"
            value={f.exceptDomains}
            error={err("exceptDomains")}
            onChange={(v) => update({ exceptDomains: v })}
          />
        </div>
      );
    case "date":
      return (
        <div class="option-grid">
          <TextOption
            label="Earliest"
            value={f.min}
            placeholder="2024-01-01 00:00:00.000Z"
            error={err("min")}
            onChange={(v) => update({ min: v })}
          />
          <TextOption
            label="Latest"
            value={f.max}
            placeholder="2030-12-31 23:59:59.999Z"
            error={err("max")}
            onChange={(v) => update({ max: v })}
          />
        </div>
      );
    case "autodate":
      return (
        <div class="option-row">
          <CheckOption label="Set on create" checked={f.onCreate} error={err("onCreate")} onChange={(v) => update({ onCreate: v })} />
          <CheckOption label="Set on update" checked={f.onUpdate} error={err("onUpdate")} onChange={(v) => update({ onUpdate: v })} />
        </div>
      );
    case "select":
      return (
        <div class="option-grid">
          <ListOption
            label="Values"
            value={f.values}
            placeholder="draft, published"
            error={err("values")}
            onChange={(v) => update({ values: v })}
          />
          <NumberOption
            label="Max select"
            value={f.maxSelect}
            error={err("maxSelect")}
            hint="1 for one value, more for several."
            onChange={(v) => update({ maxSelect: v ?? 0 })}
          />
        </div>
      );
    case "relation": {
      // A base or auth collection cannot point to a view.
      const targets = props.collections.filter((c) => props.collectionType === "view" || c.type !== "view");
      return (
        <div class="option-grid">
          <SelectOption
            label="Related collection"
            value={f.collectionId ?? ""}
            // The target of an existing relation is fixed.
            disabled={!!f.id && !!f.collectionId && props.collectionType !== "view" && f._saved === true}
            error={err("collectionId")}
            options={[
              { value: "", label: "Choose a collection…" },
              ...targets.map((c) => ({ value: c.id, label: c.id === props.selfId ? `${c.name} (this one)` : c.name })),
            ]}
            onChange={(v) => update({ collectionId: v })}
          />
          <NumberOption label="Min select" value={f.minSelect} error={err("minSelect")} onChange={(v) => update({ minSelect: v ?? 0 })} />
          <NumberOption
            label="Max select"
            value={f.maxSelect}
            error={err("maxSelect")}
            hint="1 for one record, more for several."
            onChange={(v) => update({ maxSelect: v ?? 0 })}
          />
          <CheckOption
            label="Delete with the related record (cascade)"
            checked={f.cascadeDelete}
            error={err("cascadeDelete")}
            onChange={(v) => update({ cascadeDelete: v })}
          />
        </div>
      );
    }
    case "file":
      return (
        <div class="option-grid">
          <NumberOption
            label="Max files"
            value={f.maxSelect}
            error={err("maxSelect")}
            hint="1 for one file, more for several."
            onChange={(v) => update({ maxSelect: v ?? 0 })}
          />
          <NumberOption
            label="Max file size (bytes)"
            value={f.maxSize}
            error={err("maxSize")}
            hint="0 means the default, 5 MiB."
            onChange={(v) => update({ maxSize: v ?? 0 })}
          />
          <ListOption
            label="Allowed MIME types"
            value={f.mimeTypes}
            placeholder="image/png, image/jpeg"
            hint="Empty allows any type."
            error={err("mimeTypes")}
            onChange={(v) => update({ mimeTypes: v })}
          />
          <ListOption
            label="Thumb sizes"
            value={f.thumbs}
            placeholder="100x100, 0x300, 800x600f"
            error={err("thumbs")}
            onChange={(v) => update({ thumbs: v })}
          />
          <CheckOption
            label="Protected (downloads need a file token)"
            checked={f.protected}
            error={err("protected")}
            onChange={(v) => update({ protected: v })}
          />
        </div>
      );
    case "json":
      return (
        <div class="option-grid">
          <NumberOption
            label="Max size (bytes)"
            value={f.maxSize}
            error={err("maxSize")}
            hint="0 means the default, 1 MiB."
            onChange={(v) => update({ maxSize: v ?? 0 })}
          />
        </div>
      );
    case "password":
      return (
        <div class="option-grid">
          <NumberOption label="Min length" value={f.min} error={err("min")} onChange={(v) => update({ min: v ?? 0 })} />
          <NumberOption
            label="Max length"
            value={f.max}
            error={err("max")}
            hint="0 means the default, 71."
            onChange={(v) => update({ max: v ?? 0 })}
          />
          <TextOption label="Pattern" value={f.pattern} error={err("pattern")} onChange={(v) => update({ pattern: v })} />
          <NumberOption
            label="Bcrypt cost"
            value={f.cost}
            error={err("cost")}
            hint="0 means the default, 10."
            onChange={(v) => update({ cost: v ?? 0 })}
          />
        </div>
      );
    default:
      // bool and geoPoint have no options beyond the common ones.
      return null;
  }
}
