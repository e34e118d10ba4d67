// Placeholder: the records table of a collection is built in its own task and replaces this file.
import type { CollectionModel } from "pocketbase";

export function RecordsView(props: { collection: CollectionModel }) {
  return <p class="muted">Records of {props.collection.name}</p>;
}
