// Application settings: name and URL, batch requests, the trusted proxy and superuser IPs.
import type { Settings } from "./form";
import { ListInput, NumberInput, SaveBar, TextInput, Toggle, useSettingsForm } from "./form";

export function ApplicationSection(props: { settings: Settings; onSaved: (s: Settings) => void }) {
  const { form, save, banner, status } = useSettingsForm(props.settings, props.onSaved);
  const hasSuperuserIPs = Array.isArray(props.settings.superuserIPs);
  const paths = ["meta.appName", "meta.appURL", "meta.hideControls", "batch", "trustedProxy"];
  if (hasSuperuserIPs) paths.push("superuserIPs");

  return (
    <form
      class="stack settings-form"
      onSubmit={(e) => {
        e.preventDefault();
        save(paths);
      }}
    >
      <div class="grid2">
        <TextInput form={form} path="meta.appName" label="Application name" />
        <TextInput form={form} path="meta.appURL" label="Application URL" type="url" />
      </div>
      <Toggle
        form={form}
        path="meta.hideControls"
        label="Hide collection create and edit controls"
        hint="Guards a production server against accidental schema changes from this UI."
      />

      <fieldset>
        <legend>Batch requests</legend>
        <Toggle form={form} path="batch.enabled" label="Allow batch requests (POST /api/batch)" />
        <div class="grid3">
          <NumberInput form={form} path="batch.maxRequests" label="Most requests per batch" min={0} />
          <NumberInput form={form} path="batch.timeout" label="Timeout (seconds)" min={0} />
          <NumberInput
            form={form}
            path="batch.maxBodySize"
            label="Largest body (bytes)"
            min={0}
            hint="0 uses the server's default."
          />
        </div>
      </fieldset>

      <fieldset>
        <legend>Trusted proxy</legend>
        <ListInput
          form={form}
          path="trustedProxy.headers"
          label="Client IP headers"
          hint="Comma-separated, e.g. X-Forwarded-For, X-Real-IP. Leave empty when the server is reached directly."
        />
        <Toggle
          form={form}
          path="trustedProxy.useLeftmostIP"
          label="Use the leftmost IP of the header (otherwise the rightmost)"
        />
      </fieldset>

      {hasSuperuserIPs && (
        <fieldset>
          <legend>Superuser access</legend>
          <ListInput
            form={form}
            path="superuserIPs"
            label="Allowed superuser IPs"
            hint="Comma-separated IPs or CIDR ranges; empty allows any. Include your own address or you will be locked out."
          />
        </fieldset>
      )}

      <SaveBar status={status} banner={banner} />
    </form>
  );
}
