// The indexes part of the collection editor: each index is its CREATE INDEX statement, editable
// in place; "Add index" writes one from chosen columns (and UNIQUE) so nobody has to type SQL.
import { useState } from "preact/hooks";
import { errorAt, type ErrorTree } from "./errors";
import type { FieldDraft } from "./fields";

export function IndexesEditor(props: {
  indexes: string[];
  fields: FieldDraft[];
  collectionName: string;
  errors: ErrorTree;
  onChange: (indexes: string[]) => void;
}) {
  const [columns, setColumns] = useState<string[]>([]);
  const [unique, setUnique] = useState(false);
  const { indexes } = props;
  const table = props.collectionName || "collection";

  function add() {
    if (columns.length === 0) return;
    const taken = new Set(indexes.map((s) => /INDEX\s+(?:IF NOT EXISTS\s+)?[`"]?(\w+)/i.exec(s)?.[1]));
    const base = `idx_${table}_${columns.join("_")}`;
    let name = base;
    for (let n = 2; taken.has(name); n++) name = `${base}_${n}`;
    const cols = columns.map((c) => `\`${c}\``).join(", ");
    props.onChange([...indexes, `CREATE ${unique ? "UNIQUE " : ""}INDEX \`${name}\` ON \`${table}\` (${cols})`]);
    setColumns([]);
    setUnique(false);
  }

  return (
    <section class="stack" aria-labelledby="indexes-heading">
      <h2 id="indexes-heading">Indexes</h2>
      {indexes.length === 0 && <p class="muted">No indexes.</p>}
      <ol class="index-rows">
        {indexes.map((statement, index) => {
          const error = errorAt(props.errors, "indexes", index);
          return (
            <li key={index} class={error ? "field invalid" : "field"}>
              <div class="row nowrap">
                <textarea
                  class="code grow"
                  rows={2}
                  aria-label={`Index ${index + 1}`}
                  aria-invalid={!!error}
                  value={statement}
                  onInput={(e) => props.onChange(indexes.map((s, i) => (i === index ? e.currentTarget.value : s)))}
                />
                <button
                  type="button"
                  class="icon"
                  aria-label={`Remove index ${index + 1}`}
                  onClick={() => props.onChange(indexes.filter((_, i) => i !== index))}
                >
                  ×
                </button>
              </div>
              {error && (
                <div class="field-error" role="alert">
                  {error}
                </div>
              )}
            </li>
          );
        })}
      </ol>
      <fieldset class="add-index">
        <legend>Add index</legend>
        <div class="row">
          {props.fields
            .filter((f) => f.name)
            .map((f) => (
              <label key={f._key} class="check">
                <input
                  type="checkbox"
                  checked={columns.includes(f.name)}
                  onChange={(e) =>
                    setColumns(e.currentTarget.checked ? [...columns, f.name] : columns.filter((c) => c !== f.name))
                  }
                />
                {f.name}
              </label>
            ))}
        </div>
        <div class="row">
          <label class="check">
            <input type="checkbox" checked={unique} onChange={(e) => setUnique(e.currentTarget.checked)} />
            Unique
          </label>
          <button type="button" disabled={columns.length === 0} onClick={add}>
            Add index
          </button>
          <span class="hint">Columns in the order ticked: {columns.join(", ") || "none"}</span>
        </div>
      </fieldset>
    </section>
  );
}
