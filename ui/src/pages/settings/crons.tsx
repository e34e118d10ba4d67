// Cron jobs: the server's scheduled jobs, each of which can be run now.
import { useEffect, useState } from "preact/hooks";
import { errorMessage, pb } from "../../api";
import { ErrorBanner } from "../../components/dialog";

interface CronJob {
  id: string;
  expression: string;
}

export function CronsSection() {
  const [jobs, setJobs] = useState<CronJob[] | null>(null);
  const [error, setError] = useState("");
  // The outcome of the last run of each job, by id.
  const [outcome, setOutcome] = useState<Record<string, { ok: boolean; message: string }>>({});
  const [running, setRunning] = useState("");

  useEffect(() => {
    pb.crons.getFullList().then(setJobs, (err) => setError(`The cron jobs could not be listed: ${errorMessage(err)}`));
  }, []);

  async function run(id: string) {
    setRunning(id);
    try {
      await pb.crons.run(id);
      setOutcome((o) => ({ ...o, [id]: { ok: true, message: "Started." } }));
    } catch (err) {
      setOutcome((o) => ({ ...o, [id]: { ok: false, message: errorMessage(err) } }));
    } finally {
      setRunning("");
    }
  }

  return (
    <div class="stack">
      <p class="muted">
        Jobs run on the server's schedule (UTC). "Run" starts one now in the background; its effect shows in the
        logs.
      </p>
      {error && <ErrorBanner message={error} />}
      {jobs === null && !error && <p class="muted">Loading…</p>}
      {jobs && (
        <table class="data" aria-label="Cron jobs">
          <thead>
            <tr>
              <th scope="col">Job</th>
              <th scope="col">Schedule</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
              <th scope="col">Last run from here</th>
            </tr>
          </thead>
          <tbody>
            {jobs.map((job) => {
              const result = outcome[job.id];
              return (
                <tr key={job.id}>
                  <td>
                    <code>{job.id}</code>
                  </td>
                  <td>
                    <code>{job.expression}</code>
                  </td>
                  <td>
                    <button
                      type="button"
                      aria-label={`Run ${job.id}`}
                      disabled={running === job.id}
                      onClick={() => run(job.id)}
                    >
                      {running === job.id ? "Running…" : "Run"}
                    </button>
                  </td>
                  <td role={result && !result.ok ? "alert" : "status"} class={result && !result.ok ? "text-danger" : "success"}>
                    {result?.message ?? ""}
                  </td>
                </tr>
              );
            })}
            {jobs.length === 0 && (
              <tr>
                <td colSpan={4} class="muted">
                  No cron jobs.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      )}
    </div>
  );
}
