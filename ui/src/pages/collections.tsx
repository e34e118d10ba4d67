// The collections section: a searchable list of collections beside the selected one (its header
// and records), and the editor for a new or existing collection.
//   #/collections               the list
//   #/collections/<name>        a collection's records
//   #/collections/<name>/edit   its editor
//   #/collections/new           the editor of a new collection
import type { CollectionModel } from "pocketbase";
import { useEffect, useState } from "preact/hooks";
import { errorMessage, pb } from "../api";
import { ErrorBanner } from "../components/dialog";
import { link, navigate } from "../router";
import { CollectionEditor } from "./collections/editor";
import { RecordsView } from "./records";
import "./collections/styles.css";

export function CollectionsPage(props: { parts: string[]; query: URLSearchParams }) {
  const [collections, setCollections] = useState<CollectionModel[] | null>(null);
  const [loadError, setLoadError] = useState("");
  const [search, setSearch] = useState("");

  async function reload() {
    try {
      // Collections are few (tens, rarely hundreds): one request for all of them.
      setCollections(await pb.collections.getFullList({ sort: "name" }));
      setLoadError("");
    } catch (err) {
      setLoadError(errorMessage(err));
    }
  }
  useEffect(() => {
    reload();
  }, []);

  // The saved collection goes into the list at once (a renamed one must be found under its new
  // name when the route changes), then the list is fetched again for anything else that changed.
  function showSaved(saved: CollectionModel) {
    setCollections((list) => [...(list ?? []).filter((c) => c.id !== saved.id), saved]);
    navigate("collections", saved.name);
    reload();
  }

  const [first, second] = props.parts;
  const isNew = first === "new" && !second;
  const selectedName = isNew ? undefined : first;
  const selected = collections?.find((c) => c.name === selectedName);
  const editing = second === "edit";

  const needle = search.trim().toLowerCase();
  const matching = (collections ?? []).filter((c) => !needle || c.name.toLowerCase().includes(needle));
  const own = matching.filter((c) => !c.system);
  const system = matching.filter((c) => c.system);

  let main;
  if (loadError) {
    main = <ErrorBanner message={loadError} />;
  } else if (!collections) {
    main = <p aria-live="polite">Loading…</p>;
  } else if (isNew) {
    main = (
      <CollectionEditor
        key="new"
        collections={collections}
        onSaved={showSaved}
        onDeleted={() => {}}
        onCancel={() => history.back()}
      />
    );
  } else if (selectedName && !selected) {
    main = (
      <div class="stack">
        <h1>Collection not found</h1>
        <p>
          There is no collection named <strong>{selectedName}</strong>. <a href={link("collections")}>Back to the list</a>
        </p>
      </div>
    );
  } else if (selected && editing) {
    main = (
      <CollectionEditor
        key={selected.id}
        original={selected}
        collections={collections}
        onSaved={showSaved}
        onDeleted={async () => {
          await reload();
          navigate("collections");
        }}
        onCancel={() => navigate("collections", selected.name)}
      />
    );
  } else if (selected) {
    main = (
      <div class="stack">
        <CollectionHeader collection={selected} />
        <RecordsView key={selected.id} collection={selected} />
      </div>
    );
  } else {
    main = (
      <div class="stack">
        <h1>Collections</h1>
        <p class="muted">
          Pick a collection from the list, or <a href={link("collections", "new")}>create a new one</a>.
        </p>
      </div>
    );
  }

  return (
    <div class="collections-layout">
      <aside class="collections-list" aria-label="Collections">
        <input
          type="search"
          aria-label="Search collections"
          placeholder="Search collections"
          value={search}
          onInput={(e) => setSearch(e.currentTarget.value)}
        />
        <CollectionLinks list={own} selected={selectedName} />
        {system.length > 0 && (
          <>
            <h2 class="list-group">System</h2>
            <CollectionLinks list={system} selected={selectedName} />
          </>
        )}
        {collections && matching.length === 0 && <p class="muted">No collection matches.</p>}
        <a class="button" href={link("collections", "new")}>
          New collection
        </a>
      </aside>
      <section class="collections-main">{main}</section>
    </div>
  );
}

function CollectionLinks(props: { list: CollectionModel[]; selected?: string }) {
  return (
    <ul class="collection-links">
      {props.list.map((c) => (
        <li key={c.id}>
          <a href={link("collections", c.name)} aria-current={c.name === props.selected ? "page" : undefined}>
            <span class="name">{c.name}</span>
            <span class="badge" title={`${c.type} collection`}>
              {c.type}
            </span>
          </a>
        </li>
      ))}
    </ul>
  );
}

function CollectionHeader(props: { collection: CollectionModel }) {
  const c = props.collection;
  return (
    <header class="collection-head">
      <div>
        <h1>
          {c.name} <span class="badge">{c.type}</span>
          {c.system && <span class="badge muted">system</span>}
        </h1>
        <p class="hint">
          id <code>{c.id}</code> · {c.fields.length} fields
        </p>
      </div>
      <a class="button" href={link("collections", c.name, "edit")}>
        Edit collection
      </a>
    </header>
  );
}
