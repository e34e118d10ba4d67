// The shell: the install and login screens for a guest, else the sidebar and the page the hash
// route names.
import { useEffect, useState } from "preact/hooks";
import { isSuperuser, pb } from "./api";
import { link, useRoute } from "./router";
import { InstallPage } from "./pages/install";
import { LoginPage } from "./pages/login";
import { CollectionsPage } from "./pages/collections";
import { LogsPage } from "./pages/logs";
import { SettingsPage } from "./pages/settings";
import { ClusterPage } from "./pages/cluster";

const SECTIONS = [
  { key: "collections", label: "Collections" },
  { key: "logs", label: "Logs" },
  { key: "settings", label: "Settings" },
  { key: "cluster", label: "Cluster" },
] as const;

export function App() {
  const route = useRoute();
  const [signedIn, setSignedIn] = useState(isSuperuser);
  useEffect(() => pb.authStore.onChange(() => setSignedIn(isSuperuser())), []);

  if (route.parts[0] === "pbinstall" && route.parts[1]) {
    return <InstallPage token={route.parts[1]} />;
  }
  if (!signedIn) {
    return <LoginPage />;
  }
  const section = SECTIONS.some((s) => s.key === route.parts[0]) ? route.parts[0] : "collections";
  const rest = route.parts.slice(1);
  return (
    <div class="shell">
      <nav class="sidebar" aria-label="Sections">
        <a class="brand" href={link("collections")}>
          Scalebase
        </a>
        <ul>
          {SECTIONS.map((s) => (
            <li key={s.key}>
              <a href={link(s.key)} aria-current={section === s.key ? "page" : undefined}>
                {s.label}
              </a>
            </li>
          ))}
        </ul>
        <div class="sidebar-foot">
          <span class="muted" title="Signed in as">
            {pb.authStore.record?.email}
          </span>
          <button type="button" class="link" onClick={() => pb.authStore.clear()}>
            Sign out
          </button>
        </div>
      </nav>
      <main class="page">
        {section === "collections" && <CollectionsPage parts={rest} query={route.query} />}
        {section === "logs" && <LogsPage parts={rest} query={route.query} />}
        {section === "settings" && <SettingsPage parts={rest} query={route.query} />}
        {section === "cluster" && <ClusterPage />}
      </main>
    </div>
  );
}
