// Chooses the records a relation field points to: the chosen ones as removable chips, and a
// search over the target collection's text fields, a page at a time.
import type { CollectionField, CollectionModel, RecordModel } from "pocketbase";
import { useEffect, useId, useState } from "preact/hooks";
import { errorMessage, pb } from "../../api";
import { ErrorBanner } from "../../components/dialog";
import { Pager } from "../../components/pager";
import { asList, collectionById, isMultiple, newestFirst, recordLabel, searchFilter, searchableFields } from "./format";

const PER_PAGE = 10;

export function RelationPicker(props: {
  field: CollectionField;
  value: string | string[];
  onChange: (value: string | string[]) => void;
  disabled?: boolean;
}) {
  const { field, disabled } = props;
  const multiple = isMultiple(field);
  const chosen = asList(props.value);
  const [target, setTarget] = useState<CollectionModel>();
  const [labels, setLabels] = useState<Record<string, string>>({});
  const [open, setOpen] = useState(false);
  const [error, setError] = useState("");
  const panelId = useId();

  useEffect(() => {
    collectionById(field.collectionId).then(setTarget, (err) => setError(errorMessage(err)));
  }, [field.collectionId]);

  // Labels of chosen ids not seen in a search yet (the stored value on edit).
  const unknown = chosen.filter((id) => !(id in labels));
  useEffect(() => {
    if (!target || !unknown.length) return;
    const filter = unknown.map((id) => pb.filter("id = {:id}", { id })).join(" || ");
    pb.collection(target.id)
      .getList(1, unknown.length, { filter, skipTotal: true })
      .then((res) => {
        const found: Record<string, string> = {};
        for (const id of unknown) found[id] = id; // missing ones keep their id as label
        for (const r of res.items) found[r.id] = recordLabel(r, target);
        setLabels((old) => ({ ...old, ...found }));
      })
      .catch((err) => setError(errorMessage(err)));
  }, [target, unknown.join(",")]);

  function choose(record: RecordModel, checked: boolean) {
    setLabels((old) => ({ ...old, [record.id]: recordLabel(record, target) }));
    if (!multiple) {
      props.onChange(checked ? record.id : "");
      return;
    }
    props.onChange(checked ? [...chosen.filter((id) => id !== record.id), record.id] : chosen.filter((id) => id !== record.id));
  }

  function remove(id: string) {
    props.onChange(multiple ? chosen.filter((v) => v !== id) : "");
  }

  const targetName = target?.name ?? "records";
  return (
    <div class="relation-picker">
      {error && <ErrorBanner message={error} />}
      {chosen.length > 0 ? (
        <ul class="chips" aria-label={`Chosen ${targetName}`}>
          {chosen.map((id) => (
            <li key={id} class="chip">
              <span title={id}>{labels[id] ?? id}</span>
              {!disabled && (
                <button type="button" class="icon small" aria-label={`Remove ${labels[id] ?? id}`} onClick={() => remove(id)}>
                  ×
                </button>
              )}
            </li>
          ))}
        </ul>
      ) : (
        <span class="muted">None chosen</span>
      )}
      {!disabled && target && (
        <button type="button" aria-expanded={open} aria-controls={panelId} onClick={() => setOpen(!open)}>
          {open ? `Close ${targetName} search` : `Choose ${targetName}`}
        </button>
      )}
      {open && target && (
        <div id={panelId}>
          <SearchPanel target={target} multiple={multiple} chosen={chosen} onChoose={choose} fieldName={field.name} />
        </div>
      )}
    </div>
  );
}

function SearchPanel(props: {
  target: CollectionModel;
  fieldName: string;
  multiple: boolean;
  chosen: string[];
  onChoose: (record: RecordModel, checked: boolean) => void;
}) {
  const { target } = props;
  const [query, setQuery] = useState("");
  const [debounced, setDebounced] = useState("");
  const [page, setPage] = useState(1);
  const [items, setItems] = useState<RecordModel[]>([]);
  const [error, setError] = useState("");
  const [loading, setLoading] = useState(false);
  const searchId = useId();

  useEffect(() => {
    const timer = setTimeout(() => {
      setDebounced(query);
      setPage(1);
    }, 300);
    return () => clearTimeout(timer);
  }, [query]);

  useEffect(() => {
    let stale = false;
    setLoading(true);
    const fields = ["id", ...searchableFields(target).filter((n) => n !== "id")];
    pb.collection(target.id)
      .getList(page, PER_PAGE, { filter: searchFilter(fields, debounced), skipTotal: true, sort: newestFirst(target) })
      .then(
        (res) => {
          if (stale) return;
          setItems(res.items);
          setError("");
        },
        (err) => !stale && setError(errorMessage(err)),
      )
      .finally(() => !stale && setLoading(false));
    return () => {
      stale = true;
    };
  }, [target.id, debounced, page]);

  return (
    <div class="picker-panel">
      <div class="field">
        <label for={searchId}>{`Search ${target.name}`}</label>
        <input id={searchId} type="search" value={query} onInput={(e) => setQuery(e.currentTarget.value)} />
      </div>
      {error && <ErrorBanner message={error} />}
      <ul class="picker-results" aria-busy={loading} aria-label={`${target.name} found`}>
        {items.map((record) => (
          <li key={record.id}>
            <label class="check-label">
              <input
                type={props.multiple ? "checkbox" : "radio"}
                name={props.multiple ? undefined : `pick-${props.fieldName}`}
                checked={props.chosen.includes(record.id)}
                onChange={(e) => props.onChoose(record, e.currentTarget.checked)}
              />
              <span>{recordLabel(record, target)}</span>
              <span class="muted mono">{record.id}</span>
            </label>
          </li>
        ))}
        {!loading && !items.length && <li class="muted">No records found</li>}
      </ul>
      <Pager page={page} perPage={PER_PAGE} itemsOnPage={items.length} onPage={setPage} />
    </div>
  );
}
