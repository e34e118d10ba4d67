// Placeholder until the collections screens land. TEMPORARY (ui-b): lists the collections and
// renders the records of the one in the route, so the records screen can be tried; the
// collections page replaces this.
import type { CollectionModel } from "pocketbase";
import { useEffect, useState } from "preact/hooks";
import { errorMessage, pb } from "../api";
import { ErrorBanner } from "../components/dialog";
import { link } from "../router";
import { RecordsView } from "./records";

export function CollectionsPage(props: { parts: string[]; query: URLSearchParams }) {
  const [collections, setCollections] = useState<CollectionModel[]>([]);
  const [error, setError] = useState("");
  useEffect(() => {
    pb.collections.getFullList({ sort: "name" }).then(setCollections, (err) => setError(errorMessage(err)));
  }, []);
  const current = collections.find((c) => c.name === props.parts[0] || c.id === props.parts[0]);
  return (
    <div class="stack">
      <h1>{current ? current.name : "Collections"}</h1>
      {error && <ErrorBanner message={error} />}
      <nav aria-label="Collections" class="row">
        {collections.map((c) => (
          <a key={c.id} href={link("collections", c.name)} aria-current={c === current ? "page" : undefined}>
            {c.name}
          </a>
        ))}
      </nav>
      {current && <RecordsView collection={current} />}
    </div>
  );
}
