// The building blocks every screen shares: links, loading, forms with their errors, tables
// that stack on a phone, copy buttons and formatting.
import type { ComponentChildren, JSX } from "preact";
import { useCallback, useEffect, useId, useRef, useState } from "preact/hooks";
import { ApiError } from "./api";
import { BASE, navigate } from "./router";

/** An in-app link: a real `<a href>` (open in a new tab works) that navigates without a reload. */
export function Link(props: { href: string; children: ComponentChildren; class?: string; current?: boolean }) {
  const follow = (event: MouseEvent) => {
    if (event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
    event.preventDefault();
    navigate(props.href);
  };
  return (
    <a href={BASE + props.href} onClick={follow} class={props.class} aria-current={props.current ? "page" : undefined}>
      {props.children}
    </a>
  );
}

/** What a failed call says, for a person: the API's own message. */
export function describe(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  return error instanceof Error ? error.message : String(error);
}

/** An error shown where it happened; screen readers announce it. */
export function ErrorNote(props: { error: unknown }) {
  if (!props.error) return null;
  return (
    <p class="error" role="alert">
      {describe(props.error)}
    </p>
  );
}

/** Loads with `load` now, whenever `deps` change, on `reload()`, and every `pollMs` if given. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[], pollMs?: number) {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);
  const generation = useRef(0);
  const reload = useCallback(async () => {
    const mine = ++generation.current;
    try {
      const next = await load();
      if (mine === generation.current) {
        setData(next);
        setError(null);
      }
    } catch (caught) {
      if (mine === generation.current) setError(caught);
    }
  }, deps);
  useEffect(() => {
    setData(undefined);
    reload();
    if (!pollMs) return;
    const timer = setInterval(reload, pollMs);
    return () => clearInterval(timer);
  }, [reload, pollMs]);
  return { data, error, reload };
}

/** Shows `children(data)` once loaded, the error if loading failed, and a quiet note meanwhile. */
export function Loaded<T>(props: { state: { data: T | undefined; error: unknown }; children: (data: T) => JSX.Element }) {
  if (props.state.data !== undefined) {
    return (
      <>
        <ErrorNote error={props.state.error} />
        {props.children(props.state.data)}
      </>
    );
  }
  if (props.state.error) return <ErrorNote error={props.state.error} />;
  return <p class="muted">Loading…</p>;
}

/**
 * Runs `action` on demand: `busy` while it runs, `error` holding what it threw (cleared on the
 * next run). Forms and action buttons share it.
 */
function useAction(action: () => Promise<unknown>) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const run = async () => {
    setBusy(true);
    setError(null);
    try {
      await action();
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, run };
}

/** A form whose submit runs `action`; its error appears under it and the button waits. */
export function Form(props: {
  label: string;
  submit: string;
  action: () => Promise<unknown>;
  children: ComponentChildren;
  class?: string;
}) {
  const { busy, error, run } = useAction(props.action);
  const onSubmit = (event: Event) => {
    event.preventDefault();
    run();
  };
  return (
    <form aria-label={props.label} onSubmit={onSubmit} class={props.class ?? "stack"}>
      {props.children}
      <div class="actions">
        <button type="submit" disabled={busy}>
          {busy ? "Working…" : props.submit}
        </button>
      </div>
      <ErrorNote error={error} />
    </form>
  );
}

type InputProps = Omit<JSX.InputHTMLAttributes<HTMLInputElement>, "value" | "onInput"> & {
  label: string;
  value: string;
  onValue: (value: string) => void;
  hint?: string;
};

/** A labelled input; its hint is announced as its description, not as part of its name. */
export function Field({ label, value, onValue, hint, ...rest }: InputProps) {
  const id = useId();
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <input
        {...rest}
        id={id}
        value={value}
        aria-describedby={hint ? `${id}-hint` : undefined}
        onInput={(e) => onValue((e.target as HTMLInputElement).value)}
      />
      {hint && (
        <small id={`${id}-hint`} class="muted">
          {hint}
        </small>
      )}
    </div>
  );
}

/** A labelled checkbox. */
export function Check(props: { label: string; checked: boolean; onChange: (checked: boolean) => void }) {
  return (
    <label class="check">
      <input type="checkbox" checked={props.checked} onChange={(e) => props.onChange((e.target as HTMLInputElement).checked)} />
      <span>{props.label}</span>
    </label>
  );
}

/** A labelled select over `options` (value, text). */
export function Select(props: { label: string; value: string; onValue: (v: string) => void; options: [string, string][] }) {
  const id = useId();
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      <select id={id} value={props.value} onChange={(e) => props.onValue((e.target as HTMLSelectElement).value)}>
        {props.options.map(([value, text]) => (
          <option value={value}>{text}</option>
        ))}
      </select>
    </div>
  );
}

/** One column of a `Table`: its heading and how a row fills its cell. */
export interface Column<T> {
  title: string;
  cell: (row: T) => ComponentChildren;
}

/** A table that turns into labelled stacks on a narrow screen (no sideways scrolling). */
export function Table<T>(props: { caption: string; columns: Column<T>[]; rows: T[]; empty: string }) {
  if (props.rows.length === 0) return <p class="muted">{props.empty}</p>;
  return (
    <table class="list">
      <caption class="sr-only">{props.caption}</caption>
      <thead>
        <tr>
          {props.columns.map((c) => (
            <th scope="col">{c.title}</th>
          ))}
        </tr>
      </thead>
      <tbody>
        {props.rows.map((row) => (
          <tr>
            {props.columns.map((c) => (
              <td data-label={c.title}>{c.cell(row)}</td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** A secret shown once, with a button that copies it. */
export function Secret(props: { title: string; value: string; note: string }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    await navigator.clipboard.writeText(props.value);
    setCopied(true);
  };
  return (
    <div class="secret" role="status">
      <strong>{props.title}</strong>
      <code class="wrap">{props.value}</code>
      <p class="muted">{props.note}</p>
      <button type="button" onClick={copy}>
        {copied ? "Copied" : `Copy ${props.title.toLowerCase()}`}
      </button>
    </div>
  );
}

/** A screen's title, with the document title following it. */
export function Title(props: { children: string; actions?: ComponentChildren }) {
  useEffect(() => {
    document.title = `${props.children} · rockit-edge`;
  }, [props.children]);
  return (
    <div class="title">
      <h1>{props.children}</h1>
      {props.actions}
    </div>
  );
}

/**
 * A button that runs `action` (asking first when given `confirm`), disabled while it runs, with
 * what failed shown next to it.
 */
export function Action(props: { label: string; action: () => Promise<unknown>; confirm?: string; danger?: boolean }) {
  const { busy, error, run } = useAction(props.action);
  const onClick = () => {
    if (!props.confirm || window.confirm(props.confirm)) run();
  };
  return (
    <span class="action">
      <button type="button" class={props.danger ? "danger" : undefined} disabled={busy} onClick={onClick}>
        {props.label}
      </button>
      <ErrorNote error={error} />
    </span>
  );
}

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

/** `1536` → `1.5 KiB`. */
export function bytes(n: number): string {
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${n} B` : `${value.toFixed(1)} ${UNITS[unit]}`;
}

/** An RFC 3339 time as the browser's locale shows it; a dash when absent. */
export function when(time: string | null | undefined): string {
  return time ? new Date(time).toLocaleString() : "–";
}
