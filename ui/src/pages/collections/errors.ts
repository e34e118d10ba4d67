// The server's validation errors nest like the collection JSON (`fields.3.name.message`,
// `indexes.0.message`, `listRule.message`); these helpers find the message for one spot and list
// every message, so none is lost when no control shows it.
import { ClientResponseError } from "../../api";

export type ErrorTree = { [key: string]: unknown };

/** The `data` of a failed request, or an empty tree. */
export function errorTreeOf(err: unknown): ErrorTree {
  if (err instanceof ClientResponseError) {
    const data = err.response?.data;
    if (data && typeof data === "object") return data as ErrorTree;
  }
  return {};
}

function nodeAt(tree: unknown, path: (string | number)[]): unknown {
  let node = tree;
  for (const key of path) {
    if (!node || typeof node !== "object") return undefined;
    node = (node as ErrorTree)[String(key)];
  }
  return node;
}

/** The message at `path` (e.g. `errorAt(tree, "fields", 3, "name")`). */
export function errorAt(tree: ErrorTree, ...path: (string | number)[]): string | undefined {
  const node = nodeAt(tree, path);
  if (node && typeof node === "object") {
    const message = (node as { message?: unknown }).message;
    if (typeof message === "string") return message;
  }
  return undefined;
}

/** Every message in the tree with its dotted path (`fields.3.name`). */
export function flattenErrors(tree: unknown, prefix = ""): { path: string; message: string }[] {
  if (!tree || typeof tree !== "object") return [];
  const message = (tree as { message?: unknown }).message;
  if (typeof message === "string") return [{ path: prefix, message }];
  return Object.entries(tree as ErrorTree).flatMap(([key, value]) =>
    flattenErrors(value, prefix ? `${prefix}.${key}` : key),
  );
}

/** The tree without the branch at `path` (after the user edits the control it concerns). */
export function withoutError(tree: ErrorTree, ...path: (string | number)[]): ErrorTree {
  if (path.length === 0) return {};
  const [head, ...rest] = path;
  const key = String(head);
  if (!(key in tree)) return tree;
  const copy = { ...tree };
  if (rest.length === 0) {
    delete copy[key];
  } else {
    const child = copy[key];
    if (child && typeof child === "object") copy[key] = withoutError(child as ErrorTree, ...rest);
  }
  return copy;
}
