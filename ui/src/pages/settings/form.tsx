// The editing state shared by the settings sections: a draft copy of the settings, controls bound
// to a dotted path in it ("meta.appName"), and a save that sends only the section's own keys and
// puts the server's nested validation errors next to the controls they concern.
import type { ComponentChildren } from "preact";
import { useId, useRef, useState } from "preact/hooks";
import { ClientResponseError, errorMessage, pb } from "../../api";
import { ErrorBanner } from "../../components/dialog";
import { Field } from "../../components/field";

export type Settings = Record<string, any>;

export function getPath(obj: unknown, path: string): any {
  let value: any = obj;
  for (const key of path.split(".")) value = value?.[key];
  return value;
}

/** A copy of `obj` with `path` set to `value` (arrays stay arrays). */
export function setPath<T>(obj: T, path: string, value: unknown): T {
  const [key, ...rest] = path.split(".");
  const current: any = obj ?? {};
  const copy: any = Array.isArray(current) ? [...current] : { ...current };
  copy[key] = rest.length ? setPath(current[key], rest.join("."), value) : value;
  return copy;
}

/** The values at `paths` of `obj`, nested as in `obj` (the body of a partial update). */
export function pickPaths(obj: Settings, paths: string[]): Settings {
  let out: Settings = {};
  for (const path of paths) {
    const value = getPath(obj, path);
    if (value !== undefined) out = setPath(out, path, value);
  }
  return out;
}

/**
 * The field errors of a failed settings update, flattened to dotted paths: the server nests them
 * like the settings (`data.meta.appName`, `data.rateLimits.rules.0.label`).
 */
export function nestedErrors(err: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (value: any, path: string) => {
    if (!value || typeof value !== "object") return;
    if (typeof value.message === "string" && typeof value.code === "string") {
      out[path] = value.message;
      return;
    }
    for (const [key, inner] of Object.entries(value)) walk(inner, path ? `${path}.${key}` : key);
  };
  if (err instanceof ClientResponseError) walk(err.response?.data, "");
  return out;
}

export interface SettingsForm {
  draft: Settings;
  set: (path: string, value: unknown) => void;
  errors: Record<string, string>;
  /** Paths that have a control on screen; errors for other paths go into the banner. */
  shown: Set<string>;
}

/**
 * A section's form: its draft starts from the loaded settings; `save(paths)` sends those paths
 * (write-only secrets only when typed) and hands the server's answer to `onSaved`.
 */
export function useSettingsForm(settings: Settings, onSaved: (next: Settings) => void) {
  const [draft, setDraft] = useState<Settings>(settings);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [banner, setBanner] = useState("");
  const [status, setStatus] = useState<"" | "saving" | "saved">("");
  const shown = useRef(new Set<string>()).current;

  const form: SettingsForm = {
    draft,
    errors,
    shown,
    set(path, value) {
      setDraft((d) => setPath(d, path, value));
      setStatus("");
    },
  };

  async function save(paths: string[], secrets: string[] = []) {
    setStatus("saving");
    setErrors({});
    setBanner("");
    const body = pickPaths(draft, paths);
    let withSecrets = body;
    for (const secret of secrets) {
      const typed = getPath(draft, secret);
      if (typeof typed === "string" && typed !== "") withSecrets = setPath(withSecrets, secret, typed);
    }
    try {
      const next = await pb.settings.update(withSecrets);
      setDraft(next);
      setStatus("saved");
      onSaved(next);
    } catch (err) {
      const fields = nestedErrors(err);
      setErrors(fields);
      const onScreen = (path: string) =>
        [...shown].some((s) => path === s || path.startsWith(s + "."));
      const elsewhere = Object.entries(fields).filter(([path]) => !onScreen(path));
      setBanner(
        [errorMessage(err), ...elsewhere.map(([path, message]) => `${path}: ${message}`)].join(" "),
      );
      setStatus("");
    }
  }

  return { form, save, banner, status };
}

/** The Save button of a section with the outcome of the last save. */
export function SaveBar(props: { status: "" | "saving" | "saved"; banner: string }) {
  return (
    <div class="stack">
      {props.banner && <ErrorBanner message={props.banner} />}
      <div class="row">
        <button type="submit" class="primary" disabled={props.status === "saving"}>
          {props.status === "saving" ? "Saving…" : "Save changes"}
        </button>
        <span role="status" class="muted">
          {props.status === "saved" ? "Saved." : ""}
        </span>
      </div>
    </div>
  );
}

export function TextInput(props: {
  form: SettingsForm;
  path: string;
  label: string;
  type?: "text" | "url" | "email" | "password";
  placeholder?: string;
  hint?: ComponentChildren;
  autocomplete?: string;
}) {
  const { form, path } = props;
  form.shown.add(path);
  return (
    <Field label={props.label} error={form.errors[path]} hint={props.hint}>
      {(ids) => (
        <input
          id={ids.id}
          // Preact types each input type separately; a union of text-like types does not fit any one.
          type={(props.type ?? "text") as "text"}
          value={getPath(form.draft, path) ?? ""}
          placeholder={props.placeholder}
          autocomplete={props.autocomplete ?? "off"}
          aria-invalid={ids.invalid}
          aria-describedby={ids.describedBy}
          onInput={(e) => form.set(path, e.currentTarget.value)}
        />
      )}
    </Field>
  );
}

export function NumberInput(props: {
  form: SettingsForm;
  path: string;
  label: string;
  min?: number;
  step?: number;
  hint?: ComponentChildren;
}) {
  const { form, path } = props;
  form.shown.add(path);
  const value = getPath(form.draft, path);
  return (
    <Field label={props.label} error={form.errors[path]} hint={props.hint}>
      {(ids) => (
        <input
          id={ids.id}
          type="number"
          min={props.min}
          step={props.step ?? 1}
          value={value ?? ""}
          aria-invalid={ids.invalid}
          aria-describedby={ids.describedBy}
          // An emptied box is sent as null so the server reports it, rather than a silent 0.
          onInput={(e) => form.set(path, e.currentTarget.value === "" ? null : Number(e.currentTarget.value))}
        />
      )}
    </Field>
  );
}

export function SelectInput(props: {
  form: SettingsForm;
  path: string;
  label: string;
  options: [value: string | number, label: string][];
  hint?: ComponentChildren;
}) {
  const { form, path } = props;
  form.shown.add(path);
  const value = getPath(form.draft, path);
  return (
    <Field label={props.label} error={form.errors[path]} hint={props.hint}>
      {(ids) => (
        <select
          id={ids.id}
          value={String(value ?? "")}
          aria-invalid={ids.invalid}
          aria-describedby={ids.describedBy}
          onChange={(e) => {
            const chosen = props.options.find(([v]) => String(v) === e.currentTarget.value);
            form.set(path, chosen ? chosen[0] : e.currentTarget.value);
          }}
        >
          {props.options.map(([v, label]) => (
            <option key={v} value={String(v)}>
              {label}
            </option>
          ))}
        </select>
      )}
    </Field>
  );
}

export function Toggle(props: { form: SettingsForm; path: string; label: string; hint?: ComponentChildren }) {
  const { form, path } = props;
  form.shown.add(path);
  const id = useId();
  const error = form.errors[path];
  return (
    <div class="field">
      <label class="check" for={id}>
        <input
          id={id}
          type="checkbox"
          checked={!!getPath(form.draft, path)}
          aria-invalid={!!error}
          onChange={(e) => form.set(path, e.currentTarget.checked)}
        />
        {props.label}
      </label>
      {props.hint && !error && <div class="hint">{props.hint}</div>}
      {error && (
        <div class="field-error" role="alert">
          {error}
        </div>
      )}
    </div>
  );
}

/** A list of strings edited as one comma-separated line (IPs, header names). */
export function ListInput(props: { form: SettingsForm; path: string; label: string; hint?: ComponentChildren }) {
  const { form, path } = props;
  form.shown.add(path);
  const list: string[] = getPath(form.draft, path) ?? [];
  // The typed text is kept as typed ("a, "), the draft holds the parsed list.
  const [text, setText] = useState(list.join(", "));
  const parsed = text.split(",").map((s) => s.trim()).filter(Boolean);
  const inSync = parsed.join(",") === list.join(",");
  return (
    <Field label={props.label} error={errorUnder(form.errors, path)} hint={props.hint}>
      {(ids) => (
        <input
          id={ids.id}
          type="text"
          value={inSync ? text : list.join(", ")}
          aria-invalid={ids.invalid}
          aria-describedby={ids.describedBy}
          onInput={(e) => {
            const value = e.currentTarget.value;
            setText(value);
            form.set(path, value.split(",").map((s) => s.trim()).filter(Boolean));
          }}
        />
      )}
    </Field>
  );
}

/** The error for `path` or any element below it (`superuserIPs.1`). */
function errorUnder(errors: Record<string, string>, path: string): string | undefined {
  const hits = Object.entries(errors).filter(([key]) => key === path || key.startsWith(path + "."));
  return hits.length ? hits.map(([key, message]) => (key === path ? message : `${key.slice(path.length + 1)}: ${message}`)).join(" ") : undefined;
}
