// The one API client of the UI: the official PocketBase JS SDK pointed at this server, with the
// superuser's session kept in localStorage under its own key.
import PocketBase, { ClientResponseError, LocalAuthStore } from "pocketbase";

export const pb = new PocketBase(window.location.origin, new LocalAuthStore("sb_admin_auth"));
// Pages fire overlapping requests (typing in a filter box); the SDK's auto-cancellation of
// duplicate requests would reject the earlier ones, so each page handles staleness itself.
pb.autoCancellation(false);

export { ClientResponseError };

/** The message to show for a failed request: the server's own, else the error's text. */
export function errorMessage(err: unknown): string {
  if (err instanceof ClientResponseError) {
    return err.response?.message || err.message;
  }
  return err instanceof Error ? err.message : String(err);
}

/** Field errors of a failed request (`data.<field>.message`), keyed by field name. */
export function fieldErrors(err: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (err instanceof ClientResponseError) {
    const data = err.response?.data ?? {};
    for (const [key, value] of Object.entries(data)) {
      const message = (value as { message?: string })?.message;
      if (message) out[key] = message;
    }
  }
  return out;
}

export function isSuperuser(): boolean {
  return pb.authStore.isValid && pb.authStore.record?.collectionName === "_superusers";
}
