// Small labelled controls for the collection editor's many options, each a `Field` so the label,
// hint and the server's error sit together.
import type { ComponentChildren } from "preact";
import { useId, useState } from "preact/hooks";
import { Field } from "../../components/field";

export function TextOption(props: {
  label: string;
  value: string | undefined;
  onChange: (value: string) => void;
  error?: string;
  hint?: ComponentChildren;
  placeholder?: string;
  disabled?: boolean;
  multiline?: boolean;
  /** Masked input, for secrets. */
  secret?: boolean;
}) {
  return (
    <Field label={props.label} error={props.error} hint={props.hint}>
      {({ id, describedBy, invalid }) =>
        props.multiline ? (
          <textarea
            id={id}
            rows={4}
            value={props.value ?? ""}
            placeholder={props.placeholder}
            disabled={props.disabled}
            aria-describedby={describedBy}
            aria-invalid={invalid}
            onInput={(e) => props.onChange(e.currentTarget.value)}
          />
        ) : (
          <input
            id={id}
            // Preact's input typings split by `type`; both values are plain text inputs here.
            type={(props.secret ? "password" : "text") as "text"}
            value={props.value ?? ""}
            placeholder={props.placeholder}
            disabled={props.disabled}
            aria-describedby={describedBy}
            aria-invalid={invalid}
            onInput={(e) => props.onChange(e.currentTarget.value)}
          />
        )
      }
    </Field>
  );
}

/** A number; with `nullable` an empty box means "no limit" (null), else 0. */
export function NumberOption(props: {
  label: string;
  value: number | null | undefined;
  onChange: (value: number | null) => void;
  error?: string;
  hint?: ComponentChildren;
  nullable?: boolean;
  step?: string;
}) {
  return (
    <Field label={props.label} error={props.error} hint={props.hint}>
      {({ id, describedBy, invalid }) => (
        <input
          id={id}
          type="number"
          step={props.step ?? "1"}
          value={props.value === null || props.value === undefined ? "" : String(props.value)}
          aria-describedby={describedBy}
          aria-invalid={invalid}
          onInput={(e) => {
            const text = e.currentTarget.value.trim();
            if (text === "") props.onChange(props.nullable ? null : 0);
            else if (!Number.isNaN(Number(text))) props.onChange(Number(text));
          }}
        />
      )}
    </Field>
  );
}

export function CheckOption(props: {
  label: string;
  checked: boolean | undefined;
  onChange: (checked: boolean) => void;
  error?: string;
  disabled?: boolean;
  hint?: string;
}) {
  const id = useId();
  return (
    <div class={props.error ? "field invalid" : "field"}>
      <label class="check" for={id} title={props.hint}>
        <input
          id={id}
          type="checkbox"
          checked={!!props.checked}
          disabled={props.disabled}
          aria-invalid={!!props.error}
          onChange={(e) => props.onChange(e.currentTarget.checked)}
        />
        {props.label}
      </label>
      {props.error && (
        <div class="field-error" role="alert">
          {props.error}
        </div>
      )}
    </div>
  );
}

/** A list of strings typed as comma- or line-separated text. */
export function ListOption(props: {
  label: string;
  value: string[] | undefined;
  onChange: (value: string[]) => void;
  error?: string;
  hint?: ComponentChildren;
  placeholder?: string;
}) {
  // The text is kept as typed (a trailing comma must survive until the next value is typed).
  const [text, setText] = useState(() => (props.value ?? []).join(", "));
  return (
    <Field label={props.label} error={props.error} hint={props.hint ?? "Separate values with commas."}>
      {({ id, describedBy, invalid }) => (
        <input
          id={id}
          value={text}
          placeholder={props.placeholder}
          aria-describedby={describedBy}
          aria-invalid={invalid}
          onInput={(e) => {
            const next = e.currentTarget.value;
            setText(next);
            props.onChange(
              next
                .split(/[,\n]/)
                .map((v) => v.trim())
                .filter(Boolean),
            );
          }}
        />
      )}
    </Field>
  );
}

export function SelectOption(props: {
  label: string;
  value: string;
  options: { value: string; label: string }[];
  onChange: (value: string) => void;
  error?: string;
  hint?: ComponentChildren;
  disabled?: boolean;
}) {
  return (
    <Field label={props.label} error={props.error} hint={props.hint}>
      {({ id, describedBy, invalid }) => (
        <select
          id={id}
          value={props.value}
          disabled={props.disabled}
          aria-describedby={describedBy}
          aria-invalid={invalid}
          onChange={(e) => props.onChange(e.currentTarget.value)}
        >
          {props.options.map((o) => (
            <option key={o.value} value={o.value}>
              {o.label}
            </option>
          ))}
        </select>
      )}
    </Field>
  );
}
