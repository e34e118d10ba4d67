// Settings (`#/settings/<section>`): the server's runtime settings split into sections, plus the
// backups and cron jobs, which are administered from here too.
import { useEffect, useState } from "preact/hooks";
import { errorMessage, pb } from "../api";
import { ErrorBanner } from "../components/dialog";
import { link } from "../router";
import type { Settings } from "./settings/form";
import { ApplicationSection } from "./settings/application";
import { MailSection } from "./settings/mail";
import { StorageSection } from "./settings/storage";
import { RateLimitsSection } from "./settings/rate-limits";
import { BackupsSection } from "./settings/backups";
import { CronsSection } from "./settings/crons";
import { LogSettingsSection } from "./settings/log-settings";
import "./settings/style.css";

const SECTIONS = [
  { key: "application", label: "Application" },
  { key: "mail", label: "Mail (SMTP)" },
  { key: "storage", label: "File storage" },
  { key: "rate-limits", label: "Rate limits" },
  { key: "backups", label: "Backups" },
  { key: "crons", label: "Crons" },
  { key: "logs", label: "Logs" },
] as const;

export function SettingsPage(props: { parts: string[]; query: URLSearchParams }) {
  const section = SECTIONS.find((s) => s.key === props.parts[0]) ?? SECTIONS[0];
  const [settings, setSettings] = useState<Settings | null>(null);
  const [loadError, setLoadError] = useState("");

  useEffect(() => {
    pb.settings.getAll().then(setSettings, (err) => setLoadError(errorMessage(err)));
  }, []);

  return (
    <div class="settings">
      <nav class="subnav" aria-label="Settings sections">
        <ul>
          {SECTIONS.map((s) => (
            <li key={s.key}>
              <a href={link("settings", s.key)} aria-current={s.key === section.key ? "page" : undefined}>
                {s.label}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <section class="settings-body" aria-labelledby="settings-title">
        <h1 id="settings-title">{section.label}</h1>
        {section.key === "crons" ? (
          // The cron jobs are not settings; they do not wait for them.
          <CronsSection />
        ) : (
          <>
            {loadError && <ErrorBanner message={`The settings could not be loaded: ${loadError}`} />}
            {!settings && !loadError && <p class="muted">Loading…</p>}
            {settings && (
              // Keyed by section so each one starts from the latest saved settings.
              <SectionBody key={section.key} section={section.key} settings={settings} onSaved={setSettings} />
            )}
          </>
        )}
      </section>
    </div>
  );
}

function SectionBody(props: { section: string; settings: Settings; onSaved: (s: Settings) => void }) {
  switch (props.section) {
    case "application":
      return <ApplicationSection settings={props.settings} onSaved={props.onSaved} />;
    case "mail":
      return <MailSection settings={props.settings} onSaved={props.onSaved} />;
    case "storage":
      return <StorageSection settings={props.settings} onSaved={props.onSaved} />;
    case "rate-limits":
      return <RateLimitsSection settings={props.settings} onSaved={props.onSaved} />;
    case "backups":
      return <BackupsSection settings={props.settings} onSaved={props.onSaved} />;
    default:
      return <LogSettingsSection settings={props.settings} onSaved={props.onSaved} />;
  }
}
