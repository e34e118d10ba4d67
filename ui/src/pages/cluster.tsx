// Placeholder until the cluster screen lands.
export function ClusterPage() {
  return <h1>Cluster</h1>;
}
