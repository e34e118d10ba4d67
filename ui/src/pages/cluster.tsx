// Cluster (`#/cluster`): the nodes of the deployment, their health and metrics, from
// `GET /api/cluster` polled every 2 s. The last five minutes of samples are kept here in the
// page (the server reports only the current values) and drawn per node.
import { useEffect, useRef, useState } from "preact/hooks";
import { ClientResponseError, errorMessage, pb } from "../api";
import { ErrorBanner } from "../components/dialog";
import { TimeChart, formatNumber } from "../components/chart";
import type { Point } from "../components/chart";
import { formatDateTime, formatDuration, parseServerDate } from "../components/time";
import "./cluster.css";

const POLL_MS = 2000;
const WINDOW_MS = 5 * 60_000;

interface ClusterNode {
  id: string;
  self: boolean;
  address: string;
  version: string;
  startedAt: string;
  lastSeen: string;
  healthy: boolean;
  requestsPerSecond: number | null;
  p99Ms: number | null;
  inFlight: number | null;
  cacheHitRate: number | null;
  realtimeConnections: number | null;
}

interface ClusterInfo {
  nodes: ClusterNode[];
  transport: "postgres" | "redis" | null;
}

interface Sample {
  t: number;
  rps: number | null;
  p99: number | null;
  realtime: number | null;
}

const TRANSPORTS: Record<string, string> = {
  postgres: "PostgreSQL (LISTEN/NOTIFY)",
  redis: "Redis",
};

export function ClusterPage() {
  const [info, setInfo] = useState<ClusterInfo | null>(null);
  const [unavailable, setUnavailable] = useState(false);
  const [error, setError] = useState("");
  const [paused, setPaused] = useState(false);
  const [updatedAt, setUpdatedAt] = useState(0);
  // Samples per node id; kept in a ref (appended every poll), drawn on each `updatedAt` change.
  const history = useRef(new Map<string, Sample[]>());

  useEffect(() => {
    if (paused || unavailable) return;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    // The next poll is scheduled when the previous answer is in, so a slow server is never
    // asked twice at once.
    const poll = async () => {
      if (!document.hidden) {
        try {
          const next = await pb.send<ClusterInfo>("/api/cluster", { method: "GET" });
          if (stopped) return;
          record(history.current, next, Date.now());
          setInfo(next);
          setError("");
          setUpdatedAt(Date.now());
        } catch (err) {
          if (stopped) return;
          if (err instanceof ClientResponseError && err.status === 404) {
            setUnavailable(true);
            return;
          }
          setError(errorMessage(err));
        }
      }
      if (!stopped) timer = setTimeout(poll, POLL_MS);
    };
    poll();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [paused, unavailable]);

  if (unavailable) {
    return (
      <div class="stack cluster">
        <h1>Cluster</h1>
        <p class="cluster-unavailable" role="status">
          Cluster information is not available on this server (it does not answer <code>GET /api/cluster</code>).
        </p>
        <div>
          <button type="button" onClick={() => setUnavailable(false)}>
            Try again
          </button>
        </div>
      </div>
    );
  }

  const nodes = info?.nodes ?? [];
  // "Now" on the server's clock: the newest heartbeat, so uptimes do not depend on this
  // browser's clock being right.
  const serverNow = Math.max(...nodes.map((n) => parseServerDate(n.lastSeen)).filter(Number.isFinite), 0);
  const domain: [number, number] = [updatedAt - WINDOW_MS, updatedAt];

  return (
    <div class="stack cluster">
      <div class="row cluster-head">
        <h1>Cluster</h1>
        <div class="row">
          <span class="muted" role="status">
            {paused ? "Updates paused" : updatedAt ? `Updated ${formatDateTime(updatedAt)}` : "Loading…"}
          </span>
          <button type="button" aria-pressed={paused} onClick={() => setPaused(!paused)}>
            {paused ? "Resume updates" : "Pause updates"}
          </button>
        </div>
      </div>
      {error && <ErrorBanner message={`The cluster state could not be loaded: ${error}`} />}
      {info && (
        <p>
          {nodes.length === 1 ? "1 node" : `${nodes.length} nodes`} · {nodes.filter((n) => n.healthy).length} healthy ·
          transport between nodes:{" "}
          {info.transport ? TRANSPORTS[info.transport] ?? info.transport : "none (a single node)"}
        </p>
      )}
      {info && <NodesTable nodes={nodes} serverNow={serverNow} />}
      {nodes.map((node) => (
        <NodeCharts key={node.id} node={node} samples={history.current.get(node.id) ?? []} domain={domain} />
      ))}
    </div>
  );
}

/** Appends one poll's values to each node's samples and drops those older than the window. */
function record(history: Map<string, Sample[]>, info: ClusterInfo, now: number) {
  for (const node of info.nodes) {
    const samples = history.get(node.id) ?? [];
    samples.push({ t: now, rps: node.requestsPerSecond, p99: node.p99Ms, realtime: node.realtimeConnections });
    while (samples.length && samples[0].t < now - WINDOW_MS) samples.shift();
    history.set(node.id, samples);
  }
  // Nodes that left stop getting samples; forget them once their last one is out of the window.
  for (const [id, samples] of history) {
    if (!samples.length || samples[samples.length - 1].t < now - WINDOW_MS) history.delete(id);
  }
}

function NodesTable(props: { nodes: ClusterNode[]; serverNow: number }) {
  return (
    <div class="table-scroll">
      <table class="data" aria-label="Nodes">
        <thead>
          <tr>
            <th scope="col">Node</th>
            <th scope="col">Address</th>
            <th scope="col">Version</th>
            <th scope="col">Health</th>
            <th scope="col">Up for</th>
            <th scope="col">Last seen</th>
            <th scope="col">Requests/s</th>
            <th scope="col">p99</th>
            <th scope="col">In flight</th>
            <th scope="col">Cache hits</th>
            <th scope="col">Realtime</th>
          </tr>
        </thead>
        <tbody>
          {props.nodes.map((n) => (
            <tr key={n.id}>
              <th scope="row">
                {n.id}
                {n.self && <span class="badge">this node</span>}
              </th>
              <td>{n.address}</td>
              <td>{n.version}</td>
              <td>
                <span class={n.healthy ? "health ok" : "health bad"}>{n.healthy ? "Healthy" : "Unhealthy"}</span>
              </td>
              <td>{props.serverNow ? formatDuration(props.serverNow - parseServerDate(n.startedAt)) : "—"}</td>
              <td title={formatDateTime(n.lastSeen)}>
                {props.serverNow ? `${formatDuration(props.serverNow - parseServerDate(n.lastSeen))} ago` : "—"}
              </td>
              <td>{show(n.requestsPerSecond, (v) => v.toFixed(1))}</td>
              <td>{show(n.p99Ms, formatMs)}</td>
              <td>{show(n.inFlight, String)}</td>
              <td>{show(n.cacheHitRate, (v) => `${(v * 100).toFixed(1)}%`)}</td>
              <td>{show(n.realtimeConnections, String)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function NodeCharts(props: { node: ClusterNode; samples: Sample[]; domain: [number, number] }) {
  const { node, samples } = props;
  const points = (pick: (s: Sample) => number | null): Point[] => samples.map((s) => ({ t: s.t, v: pick(s) }));
  const name = `${node.id}${node.self ? " (this node)" : ""}`;
  return (
    <section class="stack" aria-label={`Node ${name}`}>
      <h2>
        Node {name} <span class="muted">{node.address}</span>
      </h2>
      <div class="chart-grid-3">
        <TimeChart
          title={`Requests per second, ${node.id}`}
          series={[{ label: "Requests/s", points: points((s) => s.rps) }]}
          domain={props.domain}
          area
          height={150}
        />
        <TimeChart
          title={`p99 latency, ${node.id}`}
          series={[{ label: "p99 (ms)", points: points((s) => s.p99) }]}
          domain={props.domain}
          format={formatMs}
          height={150}
        />
        <TimeChart
          title={`Realtime clients, ${node.id}`}
          series={[{ label: "Connections", points: points((s) => s.realtime) }]}
          domain={props.domain}
          height={150}
        />
      </div>
    </section>
  );
}

function show(value: number | null | undefined, format: (v: number) => string): string {
  return value === null || value === undefined || !Number.isFinite(value) ? "—" : format(value);
}

function formatMs(v: number): string {
  return `${formatNumber(v)} ms`;
}
