// Tasks: the job runner's work, filtered; one task's details with its exception and warnings,
// and what can be done with it (acknowledge warnings, expire an upload, retry a failure).
import { useState } from "preact/hooks";
import { api, can, query } from "../api";
import { Action, Field, Link, Loaded, Select, Table, Title, useLoad, when } from "../ui";
import { TaskProgress, type Task, type Warning } from "./model";

const TYPES = ["", "upload", "dltar", "mkraw", "deploy", "mkseq", "cleanup", "hello"];
const STATUSES = ["", "submitted", "running", "done", "failed", "expired"];

export function TasksScreen() {
  const [appName, setAppName] = useState("");
  const [type, setType] = useState("");
  const [status, setStatus] = useState("");
  const tasks = useLoad(
    () => api("GET", `/be/v1/tasks${query({ appName, type, status, limit: 100, "order[]": "-created" })}`),
    [appName, type, status],
    3000,
  );
  return (
    <>
      <Title>Tasks</Title>
      <form aria-label="Filter tasks" class="filters" onSubmit={(e) => e.preventDefault()}>
        <Field label="App name contains" value={appName} onValue={setAppName} type="search" />
        <Select label="Type" value={type} onValue={setType} options={TYPES.map((t) => [t, t || "any"])} />
        <Select label="Status" value={status} onValue={setStatus} options={STATUSES.map((s) => [s, s || "any"])} />
      </form>
      <Loaded state={tasks}>
        {(data) => (
          <>
            <p class="muted">
              {data.total} task{data.total === 1 ? "" : "s"}
              {data.total > data.tasks.length ? `, the newest ${data.tasks.length} shown` : ""}
            </p>
            <Table<Task>
              caption="Tasks"
              rows={data.tasks}
              empty="No task matches."
              columns={[
                { title: "Task", cell: (t) => <Link href={`/tasks/${t.name}`}>{`${t.type} ${t.name.slice(-12)}`}</Link> },
                { title: "App", cell: (t) => t.appName ?? "–" },
                { title: "Status", cell: (t) => <TaskProgress task={t} /> },
                { title: "Warnings", cell: (t) => t.warnings.filter((w) => !w.acknowledged).length || "–" },
                { title: "Created", cell: (t) => when(t.created) },
              ]}
            />
          </>
        )}
      </Loaded>
    </>
  );
}

export function TaskScreen(props: { name: string }) {
  const one = useLoad(() => api("GET", `/be/v1/tasks/${props.name}`), [props.name], 2000);
  return (
    <Loaded state={one}>
      {(data) => {
        const t = data.task as Task;
        const patch = (body: Record<string, unknown>) => api("PATCH", "/be/v1/tasks", { name: t.name, ...body }).then(one.reload);
        return (
          <>
            <Title>{`Task ${t.type}`}</Title>
            <dl class="facts">
              <dt>Name</dt>
              <dd>
                <code class="wrap">{t.name}</code>
              </dd>
              <dt>App</dt>
              <dd>{t.appName ? <Link href={`/apps/${t.appName}`}>{t.appName}</Link> : "–"}</dd>
              <dt>Status</dt>
              <dd>
                <TaskProgress task={t} />
              </dd>
              <dt>Created, started, ended</dt>
              <dd>
                {when(t.created)}, {when(t.started)}, {when(t.ended)}
              </dd>
              <dt>Attempts</dt>
              <dd>{t.attempts}</dd>
            </dl>
            {t.exception && (
              <section aria-labelledby="exception-h">
                <h2 id="exception-h">Exception</h2>
                <pre class="wrap">{JSON.stringify(t.exception, null, 2)}</pre>
              </section>
            )}
            {t.result !== null && t.result !== undefined && (
              <section aria-labelledby="result-h">
                <h2 id="result-h">Result</h2>
                <pre class="wrap">{JSON.stringify(t.result, null, 2)}</pre>
              </section>
            )}
            <Warnings task={t} acknowledge={(id) => patch({ acknowledge: [id] })} />
            <div class="actions">
              {t.status === "failed" && can("tasks", 16) && (
                <Action label="Retry task" action={() => api("POST", "/be/v1/trigger", { type: "retry", taskName: t.name }).then(one.reload)} />
              )}
              {t.type === "upload" && t.status === "submitted" && can("tasks", 4) && (
                <Action danger label="Expire upload" confirm="Expire this upload? Its URL stops working." action={() => patch({ expire: true })} />
              )}
            </div>
          </>
        );
      }}
    </Loaded>
  );
}

function Warnings(props: { task: Task; acknowledge: (id: string) => Promise<unknown> }) {
  if (props.task.warnings.length === 0) return null;
  return (
    <section aria-labelledby="warnings-h">
      <h2 id="warnings-h">Warnings</h2>
      <Table<Warning>
        caption="Warnings"
        rows={props.task.warnings}
        empty=""
        columns={[
          { title: "Code", cell: (w) => <code>{w.code}</code> },
          { title: "Message", cell: (w) => w.message },
          {
            title: "Acknowledged",
            cell: (w) => (w.acknowledged ? "yes" : can("tasks", 4) ? <Action label="Acknowledge" action={() => props.acknowledge(w.id)} /> : "no"),
          },
        ]}
      />
    </section>
  );
}
