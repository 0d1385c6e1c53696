// New builds for an app: a tar the appliance downloads from a URL, or a tar uploaded from this
// browser with a progress bar (resumable: after a dropped connection, and after a reload when
// the same file is chosen again, it continues where it stopped).
import { useState } from "preact/hooks";
import { ApiError, api, type Json } from "../api";
import { pendingUpload, rememberUpload, uploadBuild, type Pending } from "../upload";
import { ErrorNote, Field, Form, Link, bytes } from "../ui";

export function ImportBuild(props: { app: string; onStarted: () => void }) {
  return (
    <section aria-labelledby="import-h">
      <h2 id="import-h">New build</h2>
      <div class="columns">
        <Upload {...props} />
        <FromUrl {...props} />
      </div>
    </section>
  );
}

function Upload(props: { app: string; onStarted: () => void }) {
  const [file, setFile] = useState<File | null>(null);
  const [buildName, setBuildName] = useState("");
  const [sent, setSent] = useState<{ sent: number; total: number } | null>(null);
  const [task, setTask] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const [resumed, setResumed] = useState(false);

  /** A new upload URL for this file, remembered until the upload completes. */
  const begin = async (chosen: File): Promise<Pending> => {
    const answer = await api("POST", "/be/v1/builds", { appName: props.app, buildName: buildName || undefined, size: chosen.size });
    // The URL names this appliance; the path and query are what it checks.
    const url = new URL(answer.uploadUrl);
    const pending = { url: url.pathname + url.search, expires: answer.expires };
    rememberUpload(props.app, chosen, pending);
    props.onStarted();
    return pending;
  };
  const send = (pending: Pending, chosen: File, resume: boolean): Promise<Json> =>
    uploadBuild(pending.url, chosen, resume, (sent, total) => setSent({ sent, total }));

  const start = async (event: Event) => {
    event.preventDefault();
    if (!file) return;
    setBusy(true);
    setError(null);
    setTask(null);
    try {
      const earlier = pendingUpload(props.app, file);
      setResumed(earlier !== null);
      let done: Json;
      try {
        done = await send(earlier ?? (await begin(file)), file, earlier !== null);
      } catch (caught) {
        // An earlier upload the appliance no longer takes (expired, completed, deleted): anew.
        const gone = caught instanceof ApiError && [404, 409, 410].includes(caught.status);
        if (!earlier || !gone) throw caught;
        setResumed(false);
        done = await send(await begin(file), file, false);
      }
      rememberUpload(props.app, file, null);
      setTask(done.taskName);
      props.onStarted();
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };
  const percent = sent && sent.total > 0 ? Math.floor((sent.sent / sent.total) * 100) : sent ? 100 : 0;
  return (
    <form aria-label="Upload a build" onSubmit={start} class="stack">
      <h3>Upload a tar</h3>
      <label class="field">
        <span>Build tar (.tar, .tar.gz, .tar.zst)</span>
        <input type="file" required onChange={(e) => setFile((e.target as HTMLInputElement).files?.[0] ?? null)} />
      </label>
      <Field label="Build name (optional)" value={buildName} onValue={setBuildName} />
      <div class="actions">
        <button type="submit" disabled={busy || !file}>
          {busy ? "Uploading…" : "Upload"}
        </button>
      </div>
      {sent && (
        <div class="progress" role="status">
          <progress max={100} value={percent} aria-label="Upload progress" />
          <span>
            {percent} % · {bytes(sent.sent)} of {bytes(sent.total)}
            {resumed ? " · continuing an earlier upload of this file" : ""}
          </span>
        </div>
      )}
      {task && (
        <p role="status">
          Uploaded. Processing: <Link href={`/tasks/${task}`}>task {task}</Link>
        </p>
      )}
      <ErrorNote error={error} />
    </form>
  );
}

function FromUrl(props: { app: string; onStarted: () => void }) {
  const [url, setUrl] = useState("");
  const [buildName, setBuildName] = useState("");
  const [size, setSize] = useState("");
  const [task, setTask] = useState<string | null>(null);
  const start = async () => {
    const answer = await api("POST", "/be/v1/builds", {
      appName: props.app,
      url,
      buildName: buildName || undefined,
      size: size ? Number(size) : undefined,
    });
    setTask(answer.taskName);
    props.onStarted();
  };
  return (
    <div>
      <h3>Import from a URL</h3>
      <Form label="Import a build from a URL" submit="Import" action={start}>
        <Field label="Tar URL (http or https)" type="url" value={url} onValue={setUrl} required />
        <Field label="Build name (optional)" value={buildName} onValue={setBuildName} />
        <Field label="Size in bytes (optional, checked)" type="number" min={0} value={size} onValue={setSize} />
      </Form>
      {task && (
        <p role="status">
          Download started: <Link href={`/tasks/${task}`}>task {task}</Link>
        </p>
      )}
    </div>
  );
}
