// Conversions between the API's values and what the records screens show or edit.
import type { CollectionField, CollectionModel, RecordModel } from "pocketbase";
import { pb } from "../../api";

const pad = (n: number, width = 2) => String(n).padStart(width, "0");

/** The API's `YYYY-MM-DD HH:MM:SS.sssZ` (UTC) as a Date, or null for "" or garbage. */
export function parseApiDate(value: string): Date | null {
  if (!value) return null;
  const date = new Date(value.replace(" ", "T"));
  return Number.isNaN(date.getTime()) ? null : date;
}

/** A Date in the API's canonical UTC format. */
export function toApiDate(date: Date): string {
  return (
    `${date.getUTCFullYear()}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())} ` +
    `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}.` +
    `${pad(date.getUTCMilliseconds(), 3)}Z`
  );
}

/** An API date as the local-time value of an `<input type="datetime-local" step="1">`. */
export function toInputDate(value: string): string {
  const date = parseApiDate(value);
  if (!date) return "";
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`
  );
}

/** A `datetime-local` value (local time, no zone) back in the API's UTC format. */
export function fromInputDate(value: string): string {
  if (!value) return "";
  // Without a zone designator, the Date constructor reads date-time strings as local time.
  const date = new Date(value.length === 16 ? value + ":00" : value);
  return Number.isNaN(date.getTime()) ? "" : toApiDate(date);
}

/** An API date for display, in the viewer's local time. */
export function displayDate(value: string): string {
  const date = parseApiDate(value);
  return date ? toInputDate(value).replace("T", " ") : value;
}

export function truncate(text: string, max = 60): string {
  return text.length > max ? text.slice(0, max - 1) + "…" : text;
}

const IMAGE = /\.(png|jpe?g|gif|webp|bmp|svg)$/i;
export function isImage(fileName: string): boolean {
  return IMAGE.test(fileName);
}

/** The values of a single or multiple field as a list. */
export function asList(value: unknown): string[] {
  if (Array.isArray(value)) return value.map(String);
  return value === undefined || value === null || value === "" ? [] : [String(value)];
}

export function isMultiple(field: CollectionField): boolean {
  return (field.maxSelect ?? 1) > 1;
}

/** Fields the API never returns, so no column or input is offered for them. */
export function isSecret(collection: CollectionModel, field: CollectionField): boolean {
  return collection.type === "auth" && (field.name === "password" || field.name === "tokenKey");
}

/** Columns of the records table: every returned field (superusers see hidden ones too). */
export function tableFields(collection: CollectionModel): CollectionField[] {
  return collection.fields.filter((f) => !isSecret(collection, f));
}

/**
 * A short human label of a record: its presentable fields, else its first non-empty text-like
 * field, else its id. `collection` may be missing while the target collection is loading.
 */
export function recordLabel(record: RecordModel, collection?: CollectionModel): string {
  const fields = collection?.fields ?? [];
  const presentable = fields.filter((f) => f.presentable && f.name !== "id");
  const values = presentable.map((f) => asList(record[f.name]).join(", ")).filter(Boolean);
  if (values.length) return values.join(" · ");
  const textual = fields.length
    ? fields.filter((f) => ["text", "email", "url"].includes(f.type) && f.name !== "id").map((f) => f.name)
    : ["name", "title", "email", "username"];
  for (const name of textual) {
    if (typeof record[name] === "string" && record[name]) return record[name];
  }
  return record.id;
}

/** Fields a relation picker searches with `~` (text-like, not hidden). */
export function searchableFields(collection: CollectionModel): string[] {
  return collection.fields
    .filter((f) => ["text", "email", "url", "editor"].includes(f.type) && !isSecret(collection, f))
    .map((f) => f.name);
}

/** A filter matching `query` in any of `fields` (values escaped by the SDK). */
export function searchFilter(fields: string[], query: string): string {
  const q = query.trim();
  if (!q) return "";
  return fields.map((name) => pb.filter(`${name} ~ {:q}`, { q })).join(" || ");
}

// Relation targets are looked up by collection id; the answers are kept for the session.
const collectionsById = new Map<string, Promise<CollectionModel>>();
export function collectionById(id: string): Promise<CollectionModel> {
  let found = collectionsById.get(id);
  if (!found) {
    found = pb.collections.getOne(id);
    found.catch(() => collectionsById.delete(id));
    collectionsById.set(id, found);
  }
  return found;
}

/** Newest records first by insertion order (cheap: the primary key); views have no row ids. */
export function newestFirst(collection: CollectionModel): string {
  return collection.type === "view" ? "" : "-@rowid";
}
