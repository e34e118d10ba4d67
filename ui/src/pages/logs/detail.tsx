// One log entry in a dialog: its fields and every key of its data as a table.
import { useEffect, useState } from "preact/hooks";
import { errorMessage, pb } from "../../api";
import { Dialog, ErrorBanner } from "../../components/dialog";
import { formatDateTime } from "../../components/time";

const LEVELS: Record<number, string> = { [-4]: "DEBUG", 0: "INFO", 4: "WARN", 8: "ERROR" };

export function levelLabel(level: number | string): string {
  return LEVELS[Number(level)] ?? `LEVEL ${level}`;
}

interface LogEntry {
  id: string;
  created: string;
  level: number;
  message: string;
  data: Record<string, unknown>;
}

export function LogDialog(props: { id: string; onClose: () => void }) {
  const [entry, setEntry] = useState<LogEntry | null>(null);
  const [error, setError] = useState("");

  useEffect(() => {
    setEntry(null);
    setError("");
    if (!props.id) return;
    let current = true;
    pb.logs.getOne(props.id).then(
      (log) => current && setEntry(log as unknown as LogEntry),
      (err) => current && setError(errorMessage(err)),
    );
    return () => {
      current = false;
    };
  }, [props.id]);

  return (
    <Dialog title="Log entry" open={!!props.id} onClose={props.onClose} wide>
      {error && <ErrorBanner message={`The log entry could not be loaded: ${error}`} />}
      {!entry && !error && <p class="muted">Loading…</p>}
      {entry && (
        <div class="stack">
          <table class="data kv" aria-label="Log entry">
            <tbody>
              <Row name="id" value={entry.id} />
              <Row name="created" value={`${formatDateTime(entry.created, true)} (${entry.created} UTC)`} />
              <Row name="level" value={`${levelLabel(entry.level)} (${entry.level})`} />
              <Row name="message" value={entry.message} />
            </tbody>
          </table>
          <h3>Data</h3>
          <table class="data kv" aria-label="Log data">
            <tbody>
              {Object.entries(entry.data ?? {}).map(([key, value]) => (
                <Row key={key} name={key} value={value} />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Dialog>
  );
}

function Row(props: { name: string; value: unknown }) {
  const { value } = props;
  const empty = value === null || value === undefined || value === "";
  return (
    <tr>
      <th scope="row">{props.name}</th>
      <td>
        {empty ? (
          <span class="muted">—</span>
        ) : typeof value === "object" ? (
          <pre>{JSON.stringify(value, null, 2)}</pre>
        ) : (
          String(value)
        )}
      </td>
    </tr>
  );
}
