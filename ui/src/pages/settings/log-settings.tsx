// Request log settings: retention, the lowest level kept, and what a log entry records.
import type { Settings } from "./form";
import { NumberInput, SaveBar, SelectInput, Toggle, useSettingsForm } from "./form";
import { link } from "../../router";

export const LOG_LEVELS: [number, string][] = [
  [-4, "Debug"],
  [0, "Info"],
  [4, "Warning"],
  [8, "Error"],
];

export function LogSettingsSection(props: { settings: Settings; onSaved: (s: Settings) => void }) {
  const { form, save, banner, status } = useSettingsForm(props.settings, props.onSaved);
  return (
    <form
      class="stack settings-form"
      onSubmit={(e) => {
        e.preventDefault();
        save(["logs.maxDays", "logs.minLevel", "logs.logIP", "logs.logAuthId"]);
      }}
    >
      <p class="muted">
        These settings apply to the request logs shown under <a href={link("logs")}>Logs</a>.
      </p>
      <div class="grid2">
        <NumberInput
          form={form}
          path="logs.maxDays"
          label="Keep logs for (days)"
          min={0}
          hint="0 turns request logging off."
        />
        <SelectInput form={form} path="logs.minLevel" label="Lowest level kept" options={LOG_LEVELS} />
      </div>
      <Toggle form={form} path="logs.logIP" label="Record the client IP" />
      <Toggle form={form} path="logs.logAuthId" label="Record the id of the authenticated record" />
      <SaveBar status={status} banner={banner} />
    </form>
  );
}
