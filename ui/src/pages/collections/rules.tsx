// API rules: each rule is locked (null: superusers only) or an expression (empty: anyone). While
// typing, the editor asks the server to check the rules (`useRuleCheck`) and shows each error
// under its rule, marking the part of the rule it points at.
import { useEffect, useId, useRef, useState } from "preact/hooks";
import { ClientResponseError, errorMessage, pb } from "../../api";

export interface RuleError {
  message: string;
  /** Byte offsets into the rule (UTF-8), when the server knows them. */
  start?: number;
  end?: number;
}

export type RuleErrors = Record<string, RuleError>;

/**
 * The rule errors the server finds in `payload` (debounced). `available` is "unknown" until the
 * first answer, "no" when the server has no check endpoint (errors then come from saving).
 */
export function useRuleCheck(payload: object | null, delayMs = 300) {
  const [errors, setErrors] = useState<RuleErrors>({});
  const [available, setAvailable] = useState<"unknown" | "yes" | "no">("unknown");
  const [failure, setFailure] = useState("");
  const sequence = useRef(0);
  const body = payload ? JSON.stringify(payload) : "";
  useEffect(() => {
    if (!body || available === "no") return;
    const n = ++sequence.current;
    const timer = setTimeout(async () => {
      try {
        const answer = await pb.send("/api/collections/meta/check-rules", { method: "POST", body });
        // A newer edit already asked again: this answer is stale.
        if (n !== sequence.current) return;
        setErrors(flattenRuleErrors(answer));
        setAvailable("yes");
        setFailure("");
      } catch (err) {
        if (n !== sequence.current) return;
        if (err instanceof ClientResponseError && err.status === 404) {
          // An older server without the check: errors come from saving instead.
          setAvailable("no");
          setErrors({});
        } else {
          setFailure(errorMessage(err));
        }
      }
    }, delayMs);
    return () => clearTimeout(timer);
  }, [body, available]);
  return { errors, available, failure };
}

/** `{listRule: {...}, mfa: {rule: {...}}}` → `{listRule: {...}, "mfa.rule": {...}}`. */
function flattenRuleErrors(answer: unknown, prefix = ""): RuleErrors {
  const out: RuleErrors = {};
  if (!answer || typeof answer !== "object") return out;
  for (const [key, value] of Object.entries(answer as Record<string, unknown>)) {
    if (!value || typeof value !== "object") continue;
    const path = prefix ? `${prefix}.${key}` : key;
    const message = (value as { message?: unknown }).message;
    if (typeof message === "string") out[path] = value as RuleError;
    else Object.assign(out, flattenRuleErrors(value, path));
  }
  return out;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The rule with the span the error points at marked (offsets are bytes, not UTF-16 units). */
function ErrorSpan(props: { rule: string; start: number; end: number }) {
  const bytes = encoder.encode(props.rule);
  const start = Math.min(Math.max(0, props.start), bytes.length);
  const end = Math.min(Math.max(start, props.end), bytes.length);
  return (
    <code class="rule-excerpt">
      {decoder.decode(bytes.slice(0, start))}
      <mark>{decoder.decode(bytes.slice(start, end)) || " "}</mark>
      {decoder.decode(bytes.slice(end))}
    </code>
  );
}

export function RuleInput(props: {
  label: string;
  value: string | null | undefined;
  onChange: (value: string | null) => void;
  error?: RuleError;
  hint?: string;
  /** View collections cannot have write rules; the auth manage rule cannot be empty. */
  lockedOnly?: boolean;
  /** False for rules that cannot be locked (the MFA rule is always text). */
  lockable?: boolean;
  /** System collections' rules cannot change. */
  readOnly?: boolean;
  emptyMeans?: string;
}) {
  const id = useId();
  const errorId = `${id}-error`;
  // The text to restore when a locked rule is unlocked again.
  const lastText = useRef(typeof props.value === "string" ? props.value : "");
  const locked = props.value === null || props.value === undefined;
  const error = props.error;
  return (
    <div class={error ? "field rule invalid" : "field rule"}>
      <div class="row">
        <label for={id}>{props.label}</label>
        {props.lockable !== false && (
          <label class="check">
            <input
              type="checkbox"
              aria-label={`${props.label}: superusers only`}
              checked={locked}
              disabled={props.lockedOnly || props.readOnly}
              onChange={(e) => props.onChange(e.currentTarget.checked ? null : lastText.current)}
            />
            Superusers only
          </label>
        )}
      </div>
      <textarea
        id={id}
        class="code"
        rows={2}
        disabled={locked || props.readOnly}
        placeholder={locked ? "Locked: only superusers may do this." : props.emptyMeans ?? "Empty: anyone, guests included."}
        value={locked ? "" : props.value ?? ""}
        aria-describedby={error ? errorId : undefined}
        aria-invalid={!!error}
        onInput={(e) => {
          lastText.current = e.currentTarget.value;
          props.onChange(e.currentTarget.value);
        }}
      />
      {props.hint && !error && <div class="hint">{props.hint}</div>}
      {error && (
        <div class="field-error" id={errorId} role="alert">
          {error.message}
          {typeof error.start === "number" && typeof error.end === "number" && !locked && (
            <div>
              <ErrorSpan rule={props.value ?? ""} start={error.start} end={error.end} />
            </div>
          )}
        </div>
      )}
    </div>
  );
}

export const RULES = [
  { key: "listRule", label: "List rule", hint: "Which records a list or search returns." },
  { key: "viewRule", label: "View rule", hint: "Who may read one record." },
  { key: "createRule", label: "Create rule", hint: "Who may create; fields refer to the submitted data." },
  { key: "updateRule", label: "Update rule", hint: "Who may update; new values are in @request.body." },
  { key: "deleteRule", label: "Delete rule", hint: "Who may delete a record." },
] as const;

export const AUTH_RULES = [
  { key: "authRule", label: "Auth rule", hint: "Extra condition to sign in, e.g. verified = true. Empty: any record." },
  {
    key: "manageRule",
    label: "Manage rule",
    hint: "Who may change another record's email, verified flag and password. Must not be empty.",
  },
] as const;
