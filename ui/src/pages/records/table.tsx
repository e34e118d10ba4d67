// The records table: one column per field, sortable headers, row checkboxes, and cells
// formatted by field type.
import type { CollectionField, CollectionModel, RecordModel } from "pocketbase";
import { pb } from "../../api";
import { asList, displayDate, isImage, recordLabel, tableFields, truncate } from "./format";

/** `sort` is the API's sort string for one column: `name` or `-name`. */
export function RecordsTable(props: {
  collection: CollectionModel;
  records: RecordModel[];
  sort: string;
  onSort: (sort: string) => void;
  /** Ids of the checked rows; absent for read-only (view) collections. */
  selected?: Set<string>;
  onSelect?: (ids: string[], checked: boolean) => void;
  onOpen: (record: RecordModel) => void;
  /** Relation field name → its target collection (for the expanded records' labels). */
  targets: Record<string, CollectionModel>;
  fileToken: string;
}) {
  const { collection, records, selected } = props;
  const fields = tableFields(collection);
  const allChecked = !!selected && records.length > 0 && records.every((r) => selected.has(r.id));

  function sortState(name: string): "ascending" | "descending" | undefined {
    if (props.sort === name) return "ascending";
    if (props.sort === "-" + name) return "descending";
    return undefined;
  }

  return (
    <div class="table-scroll">
      <table class="data records">
        <thead>
          <tr>
            {selected && (
              <th class="check">
                <input
                  type="checkbox"
                  aria-label="Select all records on this page"
                  checked={allChecked}
                  onChange={(e) =>
                    props.onSelect?.(
                      records.map((r) => r.id),
                      e.currentTarget.checked,
                    )
                  }
                />
              </th>
            )}
            {fields.map((field) => {
              const state = sortState(field.name);
              return (
                <th key={field.name} aria-sort={state ?? "none"} scope="col">
                  <button
                    type="button"
                    class="sort"
                    title={`Sort by ${field.name}`}
                    // First click sorts ascending, the next toggles.
                    onClick={() => props.onSort(state === "ascending" ? "-" + field.name : field.name)}
                  >
                    {field.name}
                    <span aria-hidden="true">{state === "ascending" ? " ▲" : state === "descending" ? " ▼" : ""}</span>
                  </button>
                </th>
              );
            })}
          </tr>
        </thead>
        <tbody>
          {records.map((record) => (
            <tr
              key={record.id}
              class={selected?.has(record.id) ? "selected" : undefined}
              onClick={(e) => {
                // Clicks on the row's own controls do their own thing.
                if ((e.target as HTMLElement).closest("button, a, input")) return;
                props.onOpen(record);
              }}
            >
              {selected && (
                <td class="check">
                  <input
                    type="checkbox"
                    aria-label={`Select record ${record.id}`}
                    checked={selected.has(record.id)}
                    onChange={(e) => props.onSelect?.([record.id], e.currentTarget.checked)}
                  />
                </td>
              )}
              {fields.map((field) => (
                <td key={field.name}>
                  {field.name === "id" ? (
                    <button type="button" class="link" aria-label={`Open record ${record.id}`} onClick={() => props.onOpen(record)}>
                      {record.id}
                    </button>
                  ) : (
                    <Cell field={field} record={record} target={props.targets[field.name]} fileToken={props.fileToken} />
                  )}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Cell(props: { field: CollectionField; record: RecordModel; target?: CollectionModel; fileToken: string }) {
  const { field, record } = props;
  const value = record[field.name];
  switch (field.type) {
    case "bool":
      return <span class={value ? "badge on" : "badge"}>{value ? "true" : "false"}</span>;
    case "date":
    case "autodate":
      return value ? <time dateTime={String(value).replace(" ", "T")} title={value}>{displayDate(value)}</time> : <Empty />;
    case "json": {
      if (value === null || value === undefined) return <Empty />;
      const text = JSON.stringify(value);
      return <code title={truncate(text, 2000)}>{truncate(text)}</code>;
    }
    case "geoPoint":
      return value ? <span>{`${value.lon}, ${value.lat}`}</span> : <Empty />;
    case "file": {
      const names = asList(value);
      if (!names.length) return <Empty />;
      return (
        <span class="cell-files">
          {names.map((name) => {
            const query: Record<string, string> = props.fileToken ? { token: props.fileToken } : {};
            const href = pb.files.getURL(record, name, query);
            return isImage(name) ? (
              <a key={name} href={href} target="_blank" rel="noreferrer" title={name}>
                <img src={pb.files.getURL(record, name, { ...query, thumb: "100x100" })} alt={name} width={32} height={32} loading="lazy" />
              </a>
            ) : (
              <a key={name} href={href} target="_blank" rel="noreferrer">
                {truncate(name, 30)}
              </a>
            );
          })}
        </span>
      );
    }
    case "relation": {
      const ids = asList(value);
      if (!ids.length) return <Empty />;
      const expanded = record.expand?.[field.name];
      if (expanded) {
        const list: RecordModel[] = Array.isArray(expanded) ? expanded : [expanded];
        return (
          <span class="chips">
            {list.map((r) => (
              <span key={r.id} class="chip" title={r.id}>
                {truncate(recordLabel(r, props.target), 40)}
              </span>
            ))}
          </span>
        );
      }
      return (
        <span class="chips">
          {ids.map((id) => (
            <span key={id} class="chip mono">
              {id}
            </span>
          ))}
        </span>
      );
    }
    case "select":
      return asList(value).length ? (
        <span class="chips">
          {asList(value).map((v) => (
            <span key={v} class="chip">
              {v}
            </span>
          ))}
        </span>
      ) : (
        <Empty />
      );
    case "number":
      return <span>{String(value ?? "")}</span>;
    case "editor": {
      // Rich text: show its words, not its markup.
      const text = String(value ?? "").replace(/<[^>]*>/g, " ").replace(/\s+/g, " ").trim();
      return text ? <span title={truncate(text, 2000)}>{truncate(text)}</span> : <Empty />;
    }
    default: {
      if (value === undefined || value === null || value === "") return <Empty />;
      const text = typeof value === "string" ? value : JSON.stringify(value);
      return <span title={text.length > 60 ? truncate(text, 2000) : undefined}>{truncate(text)}</span>;
    }
  }
}

function Empty() {
  return <span class="muted">—</span>;
}
