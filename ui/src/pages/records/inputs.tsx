// One input per field type for the record form. Values are kept in the API's shapes (dates as
// `YYYY-MM-DD HH:MM:SS.sssZ`, selects as a string or a list) except json, edited as its text.
import type { ComponentChildren } from "preact";
import type { CollectionField, RecordModel } from "pocketbase";
import { useEffect, useId, useState } from "preact/hooks";
import { pb } from "../../api";
import { Field } from "../../components/field";
import { asList, displayDate, fromInputDate, isImage, isMultiple, toInputDate } from "./format";
import { RelationPicker } from "./relation-picker";

/** A group of controls (checkbox lists, lon/lat, files) under one legend, with its error. */
export function Group(props: { legend: string; error?: string; hint?: ComponentChildren; children: ComponentChildren }) {
  const errorId = useId();
  return (
    <fieldset class={props.error ? "group invalid" : "group"} aria-describedby={props.error ? errorId : undefined}>
      <legend>{props.legend}</legend>
      {props.children}
      {props.hint && !props.error && <div class="hint">{props.hint}</div>}
      {props.error && (
        <div class="field-error" id={errorId} role="alert">
          {props.error}
        </div>
      )}
    </fieldset>
  );
}

/** New uploads and removals of one file field, applied on save. */
export interface FileChanges {
  added: File[];
  removed: string[];
}

export function FieldInput(props: {
  field: CollectionField;
  value: any;
  onChange: (value: any) => void;
  error?: string;
  disabled?: boolean;
  /** The stored record (edit) for file links; absent when creating. */
  record?: RecordModel;
  files?: FileChanges;
  onFiles?: (changes: FileChanges) => void;
}) {
  const { field, value, onChange, error, disabled } = props;
  const hint = field.help || undefined;
  const label = field.name + (field.required ? " *" : "");

  switch (field.type) {
    case "bool":
      return (
        <div class={error ? "field invalid" : "field"}>
          <label class="check-label">
            <input type="checkbox" checked={!!value} disabled={disabled} onChange={(e) => onChange(e.currentTarget.checked)} />
            {field.name}
          </label>
          {error && (
            <div class="field-error" role="alert">
              {error}
            </div>
          )}
        </div>
      );

    case "number":
      return (
        <Field label={label} error={error} hint={hint}>
          {(ids) => (
            <input
              id={ids.id}
              type="number"
              step={field.onlyInt ? 1 : "any"}
              min={field.min ?? undefined}
              max={field.max ?? undefined}
              value={value === null || value === undefined ? "" : String(value)}
              disabled={disabled}
              aria-describedby={ids.describedBy}
              aria-invalid={ids.invalid}
              onInput={(e) => {
                const text = e.currentTarget.value;
                onChange(text === "" ? "" : Number(text));
              }}
            />
          )}
        </Field>
      );

    case "email":
    case "url":
      return (
        <Field label={label} error={error} hint={hint}>
          {(ids) => {
            const attrs = {
              id: ids.id,
              value: value ?? "",
              disabled,
              "aria-describedby": ids.describedBy,
              "aria-invalid": ids.invalid,
              onInput: (e: Event) => onChange((e.currentTarget as HTMLInputElement).value),
            };
            return field.type === "email" ? <input type="email" {...attrs} /> : <input type="url" {...attrs} />;
          }}
        </Field>
      );

    case "password":
      return (
        <Field label={label} error={error} hint={hint}>
          {(ids) => (
            <input
              id={ids.id}
              type="password"
              autocomplete="new-password"
              value={value ?? ""}
              disabled={disabled}
              aria-describedby={ids.describedBy}
              aria-invalid={ids.invalid}
              onInput={(e) => onChange(e.currentTarget.value)}
            />
          )}
        </Field>
      );

    case "date":
      return (
        <Field label={label} error={error} hint={hint ?? (value ? `Stored as ${value} (UTC)` : "Local time")}>
          {(ids) => (
            <input
              id={ids.id}
              type="datetime-local"
              step={1}
              // Unchanged dates keep their milliseconds: the input only shows whole seconds.
              value={toInputDate(value ?? "")}
              disabled={disabled}
              aria-describedby={ids.describedBy}
              aria-invalid={ids.invalid}
              onInput={(e) => onChange(fromInputDate(e.currentTarget.value))}
            />
          )}
        </Field>
      );

    case "autodate":
      return (
        <Field label={field.name} hint="Set by the server">
          {(ids) => <input id={ids.id} type="text" readOnly value={value ? displayDate(value) : ""} placeholder="On save" />}
        </Field>
      );

    case "select": {
      const options: string[] = field.values ?? [];
      if (isMultiple(field)) {
        const chosen = asList(value);
        return (
          <Group legend={label} error={error} hint={hint ?? `Up to ${field.maxSelect}`}>
            <div class="options">
              {options.map((option) => (
                <label key={option} class="check-label">
                  <input
                    type="checkbox"
                    checked={chosen.includes(option)}
                    disabled={disabled}
                    onChange={(e) =>
                      onChange(e.currentTarget.checked ? [...chosen, option] : chosen.filter((v) => v !== option))
                    }
                  />
                  {option}
                </label>
              ))}
            </div>
          </Group>
        );
      }
      return (
        <Field label={label} error={error} hint={hint}>
          {(ids) => (
            <select
              id={ids.id}
              value={value ?? ""}
              disabled={disabled}
              aria-describedby={ids.describedBy}
              aria-invalid={ids.invalid}
              onChange={(e) => onChange(e.currentTarget.value)}
            >
              <option value="">(none)</option>
              {options.map((option) => (
                <option key={option} value={option}>
                  {option}
                </option>
              ))}
            </select>
          )}
        </Field>
      );
    }

    case "json": {
      const text: string = value ?? "";
      const parseError = jsonError(text);
      return (
        <Field label={label} error={error ?? parseError} hint={hint ?? "JSON; empty means null"}>
          {(ids) => (
            <textarea
              id={ids.id}
              class="mono"
              rows={5}
              spellcheck={false}
              value={text}
              disabled={disabled}
              aria-describedby={ids.describedBy}
              aria-invalid={ids.invalid}
              onInput={(e) => onChange(e.currentTarget.value)}
            />
          )}
        </Field>
      );
    }

    case "geoPoint": {
      const point = value ?? { lon: 0, lat: 0 };
      const set = (key: "lon" | "lat", text: string) => onChange({ ...point, [key]: text === "" ? 0 : Number(text) });
      return (
        <Group legend={label} error={error} hint={hint}>
          <div class="grid-2">
            <Field label="Longitude">
              {(ids) => (
                <input id={ids.id} type="number" step="any" min={-180} max={180} value={point.lon} disabled={disabled} onInput={(e) => set("lon", e.currentTarget.value)} />
              )}
            </Field>
            <Field label="Latitude">
              {(ids) => (
                <input id={ids.id} type="number" step="any" min={-90} max={90} value={point.lat} disabled={disabled} onInput={(e) => set("lat", e.currentTarget.value)} />
              )}
            </Field>
          </div>
        </Group>
      );
    }

    case "file":
      return <FileInput {...props} label={label} hint={hint} />;

    case "relation":
      return (
        <Group legend={label} error={error} hint={hint}>
          <RelationPicker field={field} value={value} onChange={onChange} disabled={disabled} />
        </Group>
      );

    default:
      // text, editor and any type this screen does not know: edited as text.
      return (
        <Field label={label} error={error} hint={hint}>
          {(ids) => (
            <textarea
              id={ids.id}
              rows={field.type === "editor" ? 8 : 2}
              value={typeof value === "string" ? value : value === null || value === undefined ? "" : JSON.stringify(value)}
              disabled={disabled}
              aria-describedby={ids.describedBy}
              aria-invalid={ids.invalid}
              onInput={(e) => onChange(e.currentTarget.value)}
            />
          )}
        </Field>
      );
  }
}

/** The message for text that is not JSON, or undefined when it parses (or is empty). */
export function jsonError(text: string): string | undefined {
  if (!text.trim()) return undefined;
  try {
    JSON.parse(text);
    return undefined;
  } catch (err) {
    return `Invalid JSON: ${(err as Error).message}`;
  }
}

function FileInput(props: {
  field: CollectionField;
  value: any;
  error?: string;
  disabled?: boolean;
  record?: RecordModel;
  files?: FileChanges;
  onFiles?: (changes: FileChanges) => void;
  label: string;
  hint?: string;
}) {
  const { field, record, disabled } = props;
  const changes = props.files ?? { added: [], removed: [] };
  const stored = asList(record?.[field.name]);
  const multiple = isMultiple(field);
  const inputId = useId();
  // Links to protected files need a short-lived file token, even for superusers.
  const [fileToken, setFileToken] = useState("");
  useEffect(() => {
    if (field.protected && stored.length) pb.files.getToken().then(setFileToken, () => {});
  }, [field.protected, stored.length > 0]);
  const query: Record<string, string> = fileToken ? { token: fileToken } : {};
  const update = (next: Partial<FileChanges>) => props.onFiles?.({ ...changes, ...next });

  return (
    <Group legend={props.label} error={props.error} hint={props.hint ?? (multiple ? `Up to ${field.maxSelect} files` : "One file; a new upload replaces the old one")}>
      {stored.length > 0 && (
        <ul class="file-list">
          {stored.map((name) => {
            const removed = changes.removed.includes(name);
            const href = record ? pb.files.getURL(record, name, query) : "";
            return (
              <li key={name} class={removed ? "removed" : undefined}>
                {record && isImage(name) && <img src={pb.files.getURL(record, name, { ...query, thumb: "100x100" })} alt="" width={32} height={32} />}
                <a href={href} target="_blank" rel="noreferrer">
                  {name}
                </a>
                {removed && <span class="muted">(removed on save)</span>}
                {!disabled && (
                  <button
                    type="button"
                    onClick={() =>
                      update({ removed: removed ? changes.removed.filter((n) => n !== name) : [...changes.removed, name] })
                    }
                  >
                    {removed ? `Keep ${name}` : `Remove ${name}`}
                  </button>
                )}
              </li>
            );
          })}
        </ul>
      )}
      {changes.added.length > 0 && (
        <ul class="file-list">
          {changes.added.map((file, index) => (
            <li key={index}>
              <span>{file.name}</span>
              <span class="muted">(new)</span>
              <button type="button" onClick={() => update({ added: changes.added.filter((_, i) => i !== index) })}>
                {`Drop ${file.name}`}
              </button>
            </li>
          ))}
        </ul>
      )}
      {!disabled && (
        <div class="field">
          <label for={inputId}>{multiple ? `Add files to ${field.name}` : `Upload ${field.name}`}</label>
          <input
            id={inputId}
            type="file"
            multiple={multiple}
            accept={(field.mimeTypes ?? []).join(",") || undefined}
            onChange={(e) => {
              const picked = Array.from(e.currentTarget.files ?? []);
              e.currentTarget.value = "";
              update({ added: multiple ? [...changes.added, ...picked] : picked.slice(0, 1) });
            }}
          />
        </div>
      )}
    </Group>
  );
}
