// Rate limits: the switch, the IPs they never apply to, and the rules table (one rule per label
// and audience; the first rule matching a request is the only one applied).
import type { ComponentChildren } from "preact";
import type { Settings, SettingsForm } from "./form";
import { ListInput, NumberInput, SaveBar, Toggle, getPath, useSettingsForm } from "./form";

interface Rule {
  label: string;
  maxRequests: number | null;
  duration: number | null;
  audience: string;
}

const AUDIENCES: [string, string][] = [
  ["", "Everyone"],
  ["@guest", "Guests only"],
  ["@auth", "Authenticated only"],
];

export function RateLimitsSection(props: { settings: Settings; onSaved: (s: Settings) => void }) {
  const { form, save, banner, status } = useSettingsForm(props.settings, props.onSaved);
  const hasFailedAuth = !!props.settings.rateLimits?.failedAuth;
  const paths = ["rateLimits.enabled", "rateLimits.rules", "rateLimits.excludedIPs"];
  if (hasFailedAuth) paths.push("rateLimits.failedAuth");

  return (
    <form
      class="stack settings-form"
      onSubmit={(e) => {
        e.preventDefault();
        save(paths);
      }}
    >
      <Toggle
        form={form}
        path="rateLimits.enabled"
        label="Limit request rates"
        hint="Counted per client IP in fixed windows; requests of superusers are never limited."
      />
      <RulesTable form={form} />
      <ListInput
        form={form}
        path="rateLimits.excludedIPs"
        label="Never limit these IPs"
        hint="Comma-separated IPs or CIDR ranges."
      />
      {hasFailedAuth && (
        <fieldset>
          <legend>Failed sign-in attempts</legend>
          <Toggle form={form} path="rateLimits.failedAuth.enabled" label="Block repeated failed sign-ins" />
          <div class="grid3">
            <NumberInput form={form} path="rateLimits.failedAuth.duration" label="Window (seconds)" min={1} />
            <NumberInput form={form} path="rateLimits.failedAuth.maxPerIP" label="Most failures per IP" min={1} />
            <NumberInput
              form={form}
              path="rateLimits.failedAuth.maxPerIdentity"
              label="Most failures per account"
              min={1}
            />
          </div>
        </fieldset>
      )}
      <SaveBar status={status} banner={banner} />
    </form>
  );
}

function RulesTable(props: { form: SettingsForm }) {
  const { form } = props;
  const rules: Rule[] = getPath(form.draft, "rateLimits.rules") ?? [];
  form.shown.add("rateLimits.rules");
  const setRules = (next: Rule[]) => form.set("rateLimits.rules", next);
  const update = (index: number, patch: Partial<Rule>) =>
    setRules(rules.map((rule, i) => (i === index ? { ...rule, ...patch } : rule)));

  return (
    <fieldset>
      <legend>Rules</legend>
      <p class="hint">
        A label is a path (<code>/api/</code> ends in a slash to cover everything below it), a method and path (
        <code>POST /api/batch</code>), or a collection action (<code>posts:create</code>, <code>*:auth</code>). The
        first rule that matches a request is the only one applied.
      </p>
      <table class="data rules">
        <thead>
          <tr>
            <th scope="col">Label</th>
            <th scope="col">Most requests</th>
            <th scope="col">Per (seconds)</th>
            <th scope="col">Applies to</th>
            <th scope="col">
              <span class="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {rules.map((rule, i) => {
            const n = i + 1;
            const rowError = form.errors[`rateLimits.rules.${i}`];
            return (
              <tr key={i}>
                <td>
                  <Cell form={form} path={`rateLimits.rules.${i}.label`}>
                    {(invalid, describedBy) => (
                      <input
                        type="text"
                        aria-label={`Label of rule ${n}`}
                        aria-invalid={invalid}
                        aria-describedby={describedBy}
                        value={rule.label}
                        placeholder="/api/"
                        onInput={(e) => update(i, { label: e.currentTarget.value })}
                      />
                    )}
                  </Cell>
                  {rowError && (
                    <div class="field-error" role="alert">
                      {rowError}
                    </div>
                  )}
                </td>
                <td>
                  <Cell form={form} path={`rateLimits.rules.${i}.maxRequests`}>
                    {(invalid, describedBy) => (
                      <input
                        type="number"
                        min={1}
                        aria-label={`Most requests of rule ${n}`}
                        aria-invalid={invalid}
                        aria-describedby={describedBy}
                        value={rule.maxRequests ?? ""}
                        onInput={(e) => update(i, { maxRequests: toNumber(e.currentTarget.value) })}
                      />
                    )}
                  </Cell>
                </td>
                <td>
                  <Cell form={form} path={`rateLimits.rules.${i}.duration`}>
                    {(invalid, describedBy) => (
                      <input
                        type="number"
                        min={1}
                        aria-label={`Seconds of rule ${n}`}
                        aria-invalid={invalid}
                        aria-describedby={describedBy}
                        value={rule.duration ?? ""}
                        onInput={(e) => update(i, { duration: toNumber(e.currentTarget.value) })}
                      />
                    )}
                  </Cell>
                </td>
                <td>
                  <Cell form={form} path={`rateLimits.rules.${i}.audience`}>
                    {(invalid, describedBy) => (
                      <select
                        aria-label={`Audience of rule ${n}`}
                        aria-invalid={invalid}
                        aria-describedby={describedBy}
                        value={rule.audience ?? ""}
                        onChange={(e) => update(i, { audience: e.currentTarget.value })}
                      >
                        {AUDIENCES.map(([value, label]) => (
                          <option key={value} value={value}>
                            {label}
                          </option>
                        ))}
                      </select>
                    )}
                  </Cell>
                </td>
                <td>
                  <button
                    type="button"
                    aria-label={`Remove rule ${n}${rule.label ? ` (${rule.label})` : ""}`}
                    onClick={() => setRules(rules.filter((_, j) => j !== i))}
                  >
                    Remove
                  </button>
                </td>
              </tr>
            );
          })}
          {rules.length === 0 && (
            <tr>
              <td colSpan={5} class="muted">
                No rules.
              </td>
            </tr>
          )}
        </tbody>
      </table>
      {form.errors["rateLimits.rules"] && (
        <div class="field-error" role="alert">
          {form.errors["rateLimits.rules"]}
        </div>
      )}
      <div>
        <button
          type="button"
          onClick={() => setRules([...rules, { label: "", maxRequests: 100, duration: 10, audience: "" }])}
        >
          Add rule
        </button>
      </div>
    </fieldset>
  );
}

/** A table cell's control with its error below it. */
function Cell(props: {
  form: SettingsForm;
  path: string;
  children: (invalid: boolean, describedBy: string | undefined) => ComponentChildren;
}) {
  const error = props.form.errors[props.path];
  const errorId = `err-${props.path.replace(/\./g, "-")}`;
  return (
    <div class={error ? "field invalid" : "field"}>
      {props.children(!!error, error ? errorId : undefined)}
      {error && (
        <div class="field-error" id={errorId} role="alert">
          {error}
        </div>
      )}
    </div>
  );
}

function toNumber(text: string): number | null {
  return text === "" ? null : Number(text);
}
