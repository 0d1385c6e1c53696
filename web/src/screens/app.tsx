// One app: its state, builds (roll back or forward), current files, patches, where it is
// published, its live tasks, new builds, settings and deletion.
import { useState } from "preact/hooks";
import { api, can, query } from "../api";
import { navigate } from "../router";
import { Action, Check, Field, Form, Link, Loaded, Table, Title, bytes, useLoad, when } from "../ui";
import { ImportBuild } from "./import";
import { StateBadge, TaskProgress, type App, type Build, type FileEntry, type Task } from "./model";

export function AppScreen(props: { name: string }) {
  const app = useLoad(async () => {
    const [detail, tasks] = await Promise.all([
      api("GET", `/be/v1/apps/${props.name}`),
      can("tasks", 2) ? api("GET", `/be/v1/tasks${query({ appName: props.name, limit: 10, "order[]": "-created" })}`) : { tasks: [] },
    ]);
    return { app: detail.app as App, tasks: (tasks.tasks as Task[]).filter((t) => t.appName === props.name) };
  }, [props.name], 1500);

  return (
    <Loaded state={app}>
      {({ app: a, tasks }) => (
        <>
          <Title>{a.label || a.name}</Title>
          <p class="summary">
            <code>{a.name}</code> <StateBadge state={a.state} /> current build{" "}
            <strong>{a.iCurBuild ? `#${a.iCurBuild}` : "none"}</strong> · {bytes(a.sizeBytes)} on the depot · published to{" "}
            {a.deployed.length ? a.deployed.join(", ") : "no CDN yet"}
          </p>
          {a.error && <AppError app={a} reload={app.reload} />}
          {a.staged && <Staged app={a} reload={app.reload} />}
          <Builds app={a} reload={app.reload} />
          <Files app={a} />
          <Patches app={a} />
          <section aria-labelledby="tasks-h">
            <h2 id="tasks-h">Recent tasks</h2>
            <Table<Task>
              caption="Recent tasks of this app"
              rows={tasks}
              empty="No task yet."
              columns={[
                { title: "Task", cell: (t) => <Link href={`/tasks/${t.name}`}>{t.type}</Link> },
                { title: "Progress", cell: (t) => <TaskProgress task={t} /> },
                { title: "Created", cell: (t) => when(t.created) },
              ]}
            />
          </section>
          {can("apps", 4) && <ImportBuild app={a.name} onStarted={app.reload} />}
          {can("apps", 4) && <Publishing app={a} reload={app.reload} />}
          {can("apps", 4) && <Settings app={a} reload={app.reload} />}
          {can("apps", 8) && (
            <section aria-labelledby="delete-h">
              <h2 id="delete-h">Delete</h2>
              <p>Deleting the app removes every file of it on the depot and on its CDN origins.</p>
              <Action
                danger
                label="Delete app"
                confirm={`Delete ${a.name} and every file it published?`}
                action={() => api("DELETE", `/be/v1/apps/${a.name}`).then(() => navigate("/apps"))}
              />
            </section>
          )}
        </>
      )}
    </Loaded>
  );
}

function AppError(props: { app: App; reload: () => void }) {
  const { error } = props.app;
  return (
    <div class="banner" role="alert">
      <p>
        The {error!.type} task failed: <code class="wrap">{JSON.stringify(error!.exception)}</code>. New builds wait until a retry succeeds.
      </p>
      {can("tasks", 16) && (
        <Action label="Retry" action={() => api("POST", "/be/v1/trigger", { type: "retry", taskName: error!.taskName }).then(props.reload)} />
      )}
    </div>
  );
}

function Staged(props: { app: App; reload: () => void }) {
  const staged = props.app.staged!;
  return (
    <div class="banner info">
      <p>
        Build #{staged.id} {staged.name} is processed and waits for a commit to become current.
      </p>
      {can("apps", 4) && (
        <Action label={`Commit build #${staged.id}`} action={() => api("POST", "/be/v1/commit", { appName: props.app.name }).then(props.reload)} />
      )}
    </div>
  );
}

function Builds(props: { app: App; reload: () => void }) {
  const { app } = props;
  const switchTo = (build: Build) => api("PATCH", "/be/v1/apps", { name: app.name, iCurBuild: build.id }).then(props.reload);
  return (
    <section aria-labelledby="builds-h">
      <h2 id="builds-h">Builds</h2>
      <Table<Build>
        caption="Retained builds"
        rows={app.builds}
        empty="No build yet: import one below."
        columns={[
          { title: "Id", cell: (b) => `#${b.id}` },
          { title: "Name", cell: (b) => b.name },
          { title: "Image", cell: (b) => <code class="wrap">{b.dxfName}</code> },
          { title: "Size", cell: (b) => bytes(b.sizeBytes) },
          { title: "Created", cell: (b) => when(b.created) },
          {
            title: "Current",
            cell: (b) =>
              b.id === app.iCurBuild ? (
                <strong>current</strong>
              ) : can("apps", 4) ? (
                <Action label={b.id < app.iCurBuild ? `Roll back to #${b.id}` : `Roll forward to #${b.id}`} action={() => switchTo(b)} />
              ) : (
                "retained"
              ),
          },
        ]}
      />
    </section>
  );
}

const fileColumns = [
  { title: "File", cell: (f: FileEntry) => <code>{f.name}</code> },
  { title: "Size", cell: (f: FileEntry) => bytes(f.size) },
  { title: "MD5", cell: (f: FileEntry) => <code class="wrap">{f.md5}</code> },
];

function Files(props: { app: App }) {
  return (
    <section aria-labelledby="files-h">
      <h2 id="files-h">Current files</h2>
      <Table<FileEntry> caption="Files of the current image" rows={props.app.files.dxf} empty="No current build." columns={fileColumns} />
    </section>
  );
}

function Patches(props: { app: App }) {
  const entries = Object.entries(props.app.files.patches);
  return (
    <section aria-labelledby="patches-h">
      <h2 id="patches-h">Patches</h2>
      {entries.length === 0 && <p class="muted">No patch: the current build is the only one retained.</p>}
      {entries.map(([key, files]) => {
        const [from, to] = key.split("-").map(Number);
        const total = files.reduce((sum, f) => sum + f.size, 0);
        return (
          <div class="patch">
            <h3>
              Patch #{from} → #{to} ({bytes(total)})
            </h3>
            <Table<FileEntry> caption={`Files of patch ${key}`} rows={files} empty="" columns={fileColumns} />
          </div>
        );
      })}
    </section>
  );
}

function Publishing(props: { app: App; reload: () => void }) {
  const deployments = useLoad(() => api("GET", `/be/v1/deployments${query({ limit: 1000, "order[]": "name" })}`), []);
  const { app } = props;
  const [chosen, setChosen] = useState<string[]>(app.deployments);
  const toggle = (name: string, on: boolean) => setChosen(on ? [...chosen, name] : chosen.filter((n) => n !== name));
  return (
    <section aria-labelledby="publish-h">
      <h2 id="publish-h">Publishing</h2>
      <p>
        Registered deployments: {app.deployments.length ? app.deployments.join(", ") : "none, so every deployment of the org"}. The depot always serves
        the app.
      </p>
      <Loaded state={deployments}>
        {(data) => (
          <Form label="Registered deployments" submit="Save deployments" action={() => api("PATCH", "/be/v1/apps", { name: app.name, deployments: chosen }).then(props.reload)}>
            <fieldset>
              <legend>Publish to</legend>
              {(data.deployments as { name: string; label: string }[]).map((d) => (
                <Check label={`${d.label || d.name} (${d.name})`} checked={chosen.includes(d.name)} onChange={(on) => toggle(d.name, on)} />
              ))}
              {data.deployments.length === 0 && <p class="muted">The org has no deployment yet.</p>}
            </fieldset>
          </Form>
        )}
      </Loaded>
      {app.iCurBuild > 0 && (
        <Action label="Publish the current build again" action={() => api("POST", "/be/v1/export", { appName: app.name }).then(props.reload)} />
      )}
    </section>
  );
}

function Settings(props: { app: App; reload: () => void }) {
  const { app } = props;
  const [label, setLabel] = useState(app.label);
  const [maxBuilds, setMaxBuilds] = useState(String(app.maxBuilds));
  const [autoCommit, setAutoCommit] = useState(app.autoCommit);
  // Only what changed: a busy app refuses a maxBuilds it is not asked to change.
  const save = () => {
    const changes: Record<string, unknown> = { name: app.name };
    if (label !== app.label) changes.label = label;
    if (Number(maxBuilds) !== app.maxBuilds) changes.maxBuilds = Number(maxBuilds);
    if (autoCommit !== app.autoCommit) changes.autoCommit = autoCommit;
    return api("PATCH", "/be/v1/apps", changes).then(props.reload);
  };
  return (
    <section aria-labelledby="settings-h">
      <h2 id="settings-h">Settings</h2>
      <Form label="App settings" submit="Save settings" action={save}>
        <Field label="Label" value={label} onValue={setLabel} />
        <Field label="Builds kept" type="number" min={1} max={100} value={maxBuilds} onValue={setMaxBuilds} />
        <Check label="Publish each processed build at once (auto commit)" checked={autoCommit} onChange={setAutoCommit} />
      </Form>
    </section>
  );
}
