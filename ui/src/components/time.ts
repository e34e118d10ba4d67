// Dates as the server writes them ("2026-12-07 20:10:00.000Z", UTC) and as the UI shows them
// (the reader's local time).

/** Milliseconds since the epoch of a server date, or NaN. */
export function parseServerDate(text: string | null | undefined): number {
  if (!text) return NaN;
  return Date.parse(text.replace(" ", "T"));
}

/** "2026-12-07 21:10:00" in local time ("—" for a missing date). */
export function formatDateTime(value: string | number | null | undefined, withMillis = false): string {
  const t = typeof value === "number" ? value : parseServerDate(value);
  if (!Number.isFinite(t)) return "—";
  const d = new Date(t);
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  const base = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return withMillis ? `${base}.${pad(d.getMilliseconds(), 3)}` : base;
}

/** "3 h 5 min", "12 s": a duration for people. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "—";
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return "—";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit ? value.toFixed(1) : value} ${units[unit]}`;
}
