// Request logs (`#/logs`): requests per hour as a chart, a page of log entries, a filter in the
// server's filter language with switches for the common cases, and one entry in a dialog.
import { useEffect, useRef, useState } from "preact/hooks";
import { errorMessage, pb } from "../api";
import { ErrorBanner } from "../components/dialog";
import { Field } from "../components/field";
import { Pager } from "../components/pager";
import { TimeChart } from "../components/chart";
import type { Point } from "../components/chart";
import { formatDateTime, parseServerDate } from "../components/time";
import { link } from "../router";
import { LogDialog, levelLabel } from "./logs/detail";
import "./logs/style.css";

const PER_PAGE = 50;
const HOUR = 3600_000;
const ERRORS_ONLY = "data.status >= 400";
const NO_SUPERUSERS = "data.auth != '_superusers'";

interface LogEntry {
  id: string;
  created: string;
  level: number;
  message: string;
  data: Record<string, any>;
}

export function LogsPage(props: { parts: string[]; query: URLSearchParams }) {
  const [text, setText] = useState(props.query.get("filter") ?? "");
  const [typed, setTyped] = useState(text);
  const [errorsOnly, setErrorsOnly] = useState(false);
  const [noSuperusers, setNoSuperusers] = useState(false);
  const [sortDesc, setSortDesc] = useState(true);
  const [page, setPage] = useState(1);
  const [items, setItems] = useState<LogEntry[] | null>(null);
  const [stats, setStats] = useState<Point[]>([]);
  const [error, setError] = useState("");
  const [openId, setOpenId] = useState("");
  const [refreshes, setRefreshes] = useState(0);
  const latest = useRef(0);

  // Typing is debounced: one request when the typing pauses, not one per key.
  useEffect(() => {
    const timer = setTimeout(() => {
      setText(typed);
      setPage(1);
    }, 350);
    return () => clearTimeout(timer);
  }, [typed]);

  const filter = [text.trim(), errorsOnly ? ERRORS_ONLY : "", noSuperusers ? NO_SUPERUSERS : ""]
    .filter(Boolean)
    .map((part) => `(${part})`)
    .join(" && ");

  useEffect(() => {
    const request = ++latest.current;
    setError("");
    const list = pb.logs.getList(page, PER_PAGE, {
      filter,
      sort: sortDesc ? "-created" : "created",
      // Counting every matching row is the slow part on a big log; paging does not need it.
      skipTotal: true,
    });
    const hourly = pb.logs.getStats({ filter });
    list.then(
      (result) => request === latest.current && setItems(result.items as unknown as LogEntry[]),
      (err) => request === latest.current && setError(errorMessage(err)),
    );
    hourly.then(
      (result) => request === latest.current && setStats(fillHours(result)),
      (err) => request === latest.current && setError(errorMessage(err)),
    );
  }, [filter, sortDesc, page, refreshes]);

  return (
    <div class="logs stack">
      <div class="row spread">
        <h1>Logs</h1>
        <div class="row">
          <a href={link("settings", "logs")}>Log settings</a>
          <button type="button" onClick={() => setRefreshes((n) => n + 1)}>
            Refresh
          </button>
        </div>
      </div>
      <form
        class="logs-filter"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          setText(typed);
          setPage(1);
        }}
      >
        <Field label="Filter" hint={<>The filter language of the API, e.g. <code>data.method = "POST" && data.execTime &gt; 100</code> or <code>level &gt; 0</code>.</>}>
          {(ids) => (
            <input
              id={ids.id}
              type="search"
              value={typed}
              placeholder={`data.url ~ "/api/collections" && data.status >= 400`}
              aria-describedby={ids.describedBy}
              onInput={(e) => setTyped(e.currentTarget.value)}
            />
          )}
        </Field>
        <div class="row">
          <label class="check">
            <input
              type="checkbox"
              checked={errorsOnly}
              onChange={(e) => {
                setErrorsOnly(e.currentTarget.checked);
                setPage(1);
              }}
            />
            Errors only (status 400 and above)
          </label>
          <label class="check">
            <input
              type="checkbox"
              checked={noSuperusers}
              onChange={(e) => {
                setNoSuperusers(e.currentTarget.checked);
                setPage(1);
              }}
            />
            Exclude superuser requests
          </label>
        </div>
      </form>

      {error && <ErrorBanner message={`The logs could not be loaded: ${error}`} />}

      <TimeChart
        title={filter ? "Requests per hour (matching the filter)" : "Requests per hour"}
        series={[{ label: "Requests", points: stats }]}
        area
        step={HOUR}
        height={160}
      />

      {items === null && !error && <p class="muted">Loading…</p>}
      {items && (
        <div class="table-scroll">
          <table class="data logs-table" aria-label="Request logs">
            <thead>
              <tr>
                <th scope="col" aria-sort={sortDesc ? "descending" : "ascending"}>
                  <button
                    type="button"
                    class="link"
                    onClick={() => {
                      setSortDesc(!sortDesc);
                      setPage(1);
                    }}
                  >
                    Time {sortDesc ? "↓" : "↑"}
                    <span class="visually-hidden">, sorted {sortDesc ? "newest first" : "oldest first"}</span>
                  </button>
                </th>
                <th scope="col">Level</th>
                <th scope="col">Method</th>
                <th scope="col">Status</th>
                <th scope="col">URL</th>
                <th scope="col">Time taken</th>
                <th scope="col">IP</th>
                <th scope="col">Auth</th>
              </tr>
            </thead>
            <tbody>
              {items.map((entry) => (
                <LogRow key={entry.id} entry={entry} onOpen={() => setOpenId(entry.id)} />
              ))}
              {items.length === 0 && (
                <tr>
                  <td colSpan={8} class="muted">
                    No log entries{filter ? " match the filter" : ""}.
                  </td>
                </tr>
              )}
            </tbody>
          </table>
        </div>
      )}
      {items && (page > 1 || items.length >= PER_PAGE) && (
        <Pager page={page} perPage={PER_PAGE} itemsOnPage={items.length} onPage={setPage} />
      )}
      <LogDialog id={openId} onClose={() => setOpenId("")} />
    </div>
  );
}

function LogRow(props: { entry: LogEntry; onOpen: () => void }) {
  const { entry } = props;
  const data = entry.data ?? {};
  const status = Number(data.status);
  return (
    <tr class={status >= 500 ? "status-5xx" : status >= 400 ? "status-4xx" : undefined}>
      <td>
        <button type="button" class="link" onClick={props.onOpen} aria-label={`Open log entry of ${formatDateTime(entry.created, true)}: ${entry.message}`}>
          {formatDateTime(entry.created, true)}
        </button>
      </td>
      <td>
        <span class={`level level-${levelLabel(entry.level).toLowerCase()}`}>{levelLabel(entry.level)}</span>
      </td>
      <td>{data.method ?? ""}</td>
      <td>{data.status ?? ""}</td>
      <td title={data.url ?? entry.message}>{data.url ?? entry.message}</td>
      <td>{typeof data.execTime === "number" ? `${data.execTime.toFixed(data.execTime < 10 ? 2 : 0)} ms` : ""}</td>
      <td>{data.userIP || data.remoteIP || ""}</td>
      <td>{data.auth || <span class="muted">guest</span>}</td>
    </tr>
  );
}

/**
 * Hourly totals with the hours that had no requests filled in as zeros (the server leaves them
 * out), over at least the last six hours of the data, so a quiet spell reads as zero.
 */
function fillHours(stats: { date: string; total: number }[]): Point[] {
  const totals = new Map<number, number>();
  for (const s of stats) {
    const t = parseServerDate(s.date);
    if (Number.isFinite(t)) totals.set(t, (totals.get(t) ?? 0) + s.total);
  }
  if (!totals.size) return [];
  const hours = [...totals.keys()];
  const last = Math.max(...hours);
  const first = Math.min(Math.min(...hours), last - 6 * HOUR);
  const points: Point[] = [];
  // Retention is days, so this is at most a few thousand hours; the cap guards against bad dates.
  for (let t = first; t <= last && points.length < 20_000; t += HOUR) {
    points.push({ t, v: totals.get(t) ?? 0 });
  }
  return points;
}
