// A labelled form control with its error below it, tied together for assistive technology.
import type { ComponentChildren } from "preact";
import { useId } from "preact/hooks";

/** `children` gets the id its control must carry and the id of the error text. */
export function Field(props: {
  label: string;
  error?: string;
  hint?: ComponentChildren;
  children: (ids: { id: string; describedBy?: string; invalid: boolean }) => ComponentChildren;
}) {
  const id = useId();
  const errorId = `${id}-error`;
  return (
    <div class={props.error ? "field invalid" : "field"}>
      <label for={id}>{props.label}</label>
      {props.children({ id, describedBy: props.error ? errorId : undefined, invalid: !!props.error })}
      {props.hint && !props.error && <div class="hint">{props.hint}</div>}
      {props.error && (
        <div class="field-error" id={errorId} role="alert">
          {props.error}
        </div>
      )}
    </div>
  );
}
