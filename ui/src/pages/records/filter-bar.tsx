// The controls above the records table: the filter (the API's own filter language), the
// relations to expand and the page size.
import type { CollectionModel } from "pocketbase";
import { useEffect, useId, useState } from "preact/hooks";

const PAGE_SIZES = [20, 50, 100, 200, 500];

export function FilterBar(props: {
  collection: CollectionModel;
  filter: string;
  onFilter: (filter: string) => void;
  expand: string[];
  onExpand: (expand: string[]) => void;
  perPage: number;
  onPerPage: (perPage: number) => void;
}) {
  const [draft, setDraft] = useState(props.filter);
  useEffect(() => setDraft(props.filter), [props.filter]);
  const filterId = useId();
  const hintId = useId();
  const perPageId = useId();
  const relations = props.collection.fields.filter((f) => f.type === "relation");

  return (
    <div class="filter-bar">
      {/* Applied on Enter rather than while typing: a half-typed expression is always invalid. */}
      <form
        class="filter-form"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          props.onFilter(draft.trim());
        }}
      >
        <label for={filterId} class="visually-hidden">
          Filter
        </label>
        <input
          id={filterId}
          type="search"
          class="mono"
          placeholder={'Filter, e.g. title ~ "x" && views > 3'}
          aria-describedby={hintId}
          value={draft}
          onInput={(e) => setDraft(e.currentTarget.value)}
        />
        <span id={hintId} class="visually-hidden">
          The API's filter syntax; press Enter to apply.
        </span>
        <button type="submit">Apply filter</button>
        {props.filter && (
          <button
            type="button"
            onClick={() => {
              setDraft("");
              props.onFilter("");
            }}
          >
            Clear filter
          </button>
        )}
      </form>
      <div class="row">
        {relations.length > 0 && (
          <details class="menu">
            <summary>Expand{props.expand.length ? ` (${props.expand.length})` : ""}</summary>
            <fieldset class="menu-body">
              <legend>Relations to expand</legend>
              {relations.map((field) => (
                <label key={field.name} class="check-label">
                  <input
                    type="checkbox"
                    checked={props.expand.includes(field.name)}
                    onChange={(e) =>
                      props.onExpand(
                        e.currentTarget.checked
                          ? [...props.expand, field.name]
                          : props.expand.filter((name) => name !== field.name),
                      )
                    }
                  />
                  {field.name}
                </label>
              ))}
            </fieldset>
          </details>
        )}
        <label for={perPageId} class="inline-label">
          Per page
        </label>
        <select id={perPageId} class="auto" value={String(props.perPage)} onChange={(e) => props.onPerPage(Number(e.currentTarget.value))}>
          {PAGE_SIZES.map((n) => (
            <option key={n} value={String(n)}>
              {n}
            </option>
          ))}
        </select>
      </div>
    </div>
  );
}
