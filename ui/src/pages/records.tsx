// The records of one collection: a server-paged, sortable, filterable table with row selection
// and batch delete, and the record form. Rendered by the collections page for the collection
// it has selected.
import type { CollectionModel, RecordModel } from "pocketbase";
import { useEffect, useState } from "preact/hooks";
import { errorMessage, pb } from "../api";
import { Confirm, ErrorBanner } from "../components/dialog";
import { Pager } from "../components/pager";
import { FilterBar } from "./records/filter-bar";
import { collectionById, newestFirst } from "./records/format";
import { RecordForm } from "./records/record-form";
import { RecordsTable } from "./records/table";
import "./records/records.css";

export function RecordsView(props: { collection: CollectionModel }) {
  // A fresh state (page, filter, selection) for each collection.
  return <Records key={props.collection.id} collection={props.collection} />;
}

type FormState = { mode: "create" } | { mode: "edit"; record: RecordModel } | null;

function Records(props: { collection: CollectionModel }) {
  const { collection } = props;
  const readOnly = collection.type === "view";
  const [page, setPage] = useState(1);
  const [perPage, setPerPage] = useState(50);
  const [sort, setSort] = useState(newestFirst(collection));
  const [filter, setFilter] = useState("");
  const [expand, setExpand] = useState<string[]>([]);
  const [records, setRecords] = useState<RecordModel[]>([]);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState("");
  const [total, setTotal] = useState<number>();
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [form, setForm] = useState<FormState>(null);
  const [reloads, setReloads] = useState(0);
  const [targets, setTargets] = useState<Record<string, CollectionModel>>({});
  const [fileToken, setFileToken] = useState("");
  const [confirmBatch, setConfirmBatch] = useState(false);
  const [batchBusy, setBatchBusy] = useState(false);
  const [batchError, setBatchError] = useState("");

  const reload = () => setReloads((n) => n + 1);
  const relationFields = collection.fields.filter((f) => f.type === "relation");

  // Target collections of relation fields, for the labels of expanded records.
  const relationTargets = relationFields.map((f) => `${f.name}:${f.collectionId}`).join(",");
  useEffect(() => {
    for (const field of relationFields) {
      collectionById(field.collectionId).then(
        (target) => setTargets((old) => ({ ...old, [field.name]: target })),
        () => {}, // labels fall back to the record's text fields
      );
    }
    // Protected files need a short-lived file token in their URLs, even for superusers.
    if (collection.fields.some((f) => f.type === "file" && f.protected)) {
      pb.files.getToken().then(setFileToken, (err) => setError(errorMessage(err)));
    }
  }, [relationTargets]);

  // The page itself, without a COUNT (skipTotal) so it stays fast on large tables.
  useEffect(() => {
    let stale = false;
    setLoading(true);
    pb.collection(collection.id)
      .getList(page, perPage, { sort, filter, expand: expand.join(","), skipTotal: true })
      .then(
        (res) => {
          if (stale) return;
          // Past the end (the last rows of the last page were deleted): step back a page.
          if (!res.items.length && page > 1) {
            setPage(page - 1);
            return;
          }
          setRecords(res.items);
          setError("");
        },
        (err) => {
          if (stale) return;
          setRecords([]);
          setError(filter || sort ? `Cannot list records with this filter or sort: ${errorMessage(err)}` : errorMessage(err));
        },
      )
      .finally(() => !stale && setLoading(false));
    return () => {
      stale = true;
    };
  }, [page, perPage, sort, filter, expand.join(","), reloads]);

  // The total, counted separately and only when the filter (or the data) changes.
  useEffect(() => {
    let stale = false;
    setTotal(undefined);
    pb.collection(collection.id)
      .getList(1, 1, { filter, fields: "id" })
      .then(
        (res) => !stale && setTotal(res.totalItems),
        () => {}, // the page request reports the same error
      );
    return () => {
      stale = true;
    };
  }, [filter, reloads]);

  // A selection only makes sense for the rows on screen.
  useEffect(() => setSelected(new Set()), [page, perPage, sort, filter, reloads]);

  function select(ids: string[], checked: boolean) {
    setSelected((old) => {
      const next = new Set(old);
      for (const id of ids) checked ? next.add(id) : next.delete(id);
      return next;
    });
  }

  async function deleteSelected() {
    setBatchBusy(true);
    setBatchError("");
    try {
      await deleteRecords(collection, [...selected]);
      setConfirmBatch(false);
      reload();
    } catch (err) {
      setBatchError(errorMessage(err));
      reload(); // some may be gone already when batches are off
    } finally {
      setBatchBusy(false);
    }
  }

  return (
    <section class="records stack" aria-label={`Records of ${collection.name}`}>
      <div class="records-toolbar">
        <FilterBar
          collection={collection}
          filter={filter}
          onFilter={(f) => {
            setFilter(f);
            setPage(1);
          }}
          expand={expand}
          onExpand={setExpand}
          perPage={perPage}
          onPerPage={(n) => {
            setPerPage(n);
            setPage(1);
          }}
        />
        <div class="row">
          <button type="button" onClick={reload} aria-label="Reload records">
            Reload
          </button>
          {!readOnly && (
            <button type="button" class="primary" onClick={() => setForm({ mode: "create" })}>
              New record
            </button>
          )}
        </div>
      </div>
      {readOnly && <p class="muted">View collections are read-only.</p>}
      {error && <ErrorBanner message={error} />}
      {selected.size > 0 && (
        <div class="selection-bar row" role="region" aria-label="Selection">
          <span>{selected.size} selected</span>
          <button type="button" class="danger" onClick={() => setConfirmBatch(true)}>
            Delete selected
          </button>
          <button type="button" onClick={() => setSelected(new Set())}>
            Clear selection
          </button>
        </div>
      )}
      <div aria-busy={loading}>
        <RecordsTable
          collection={collection}
          records={records}
          sort={sort}
          onSort={(s) => {
            setSort(s);
            setPage(1);
          }}
          selected={readOnly ? undefined : selected}
          onSelect={select}
          onOpen={(record) => setForm({ mode: "edit", record })}
          targets={targets}
          fileToken={fileToken}
        />
        {!loading && !error && records.length === 0 && <p class="muted empty">{filter ? "No records match the filter." : "No records yet."}</p>}
      </div>
      <Pager page={page} perPage={perPage} itemsOnPage={records.length} totalItems={total} onPage={setPage} />
      {form && (
        <RecordForm
          collection={collection}
          record={form.mode === "edit" ? form.record : undefined}
          onClose={() => setForm(null)}
          onSaved={() => {
            setForm(null);
            reload();
          }}
          onDeleted={() => {
            setForm(null);
            reload();
          }}
        />
      )}
      <Confirm
        title="Delete records"
        message={`Delete ${selected.size} selected record${selected.size === 1 ? "" : "s"} of ${collection.name}? This cannot be undone.`}
        confirmLabel={`Delete ${selected.size}`}
        open={confirmBatch}
        busy={batchBusy}
        error={batchError}
        onConfirm={deleteSelected}
        onClose={() => {
          setConfirmBatch(false);
          setBatchError("");
        }}
      />
    </section>
  );
}

/**
 * Deletes records in batch requests (all-or-nothing per batch) when the server allows batches,
 * else one request per record, since batches are off in a fresh install's settings.
 */
async function deleteRecords(collection: CollectionModel, ids: string[]): Promise<void> {
  const settings = await pb.settings.getAll({ fields: "batch" }).catch(() => null);
  const batch = settings?.batch as { enabled?: boolean; maxRequests?: number } | undefined;
  if (batch?.enabled) {
    const size = Math.max(1, batch.maxRequests || 50);
    for (let start = 0; start < ids.length; start += size) {
      const requests = pb.createBatch();
      for (const id of ids.slice(start, start + size)) requests.collection(collection.id).delete(id);
      await requests.send();
    }
    return;
  }
  for (const id of ids) {
    await pb.collection(collection.id).delete(id);
  }
}
