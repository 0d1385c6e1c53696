// The org's apps: state, current build and last task at a glance, and a new app.
import { useState } from "preact/hooks";
import { api, can, query } from "../api";
import { navigate } from "../router";
import { Check, Field, Form, Link, Loaded, Table, Title, useLoad, when } from "../ui";
import { StateBadge, type App, type Task } from "./model";

export function AppsScreen() {
  const apps = useLoad(async () => {
    const [list, tasks] = await Promise.all([
      api("GET", `/be/v1/apps${query({ limit: 1000, "order[]": "name" })}`),
      can("tasks", 2) ? api("GET", `/be/v1/tasks${query({ limit: 200, "order[]": "-created" })}`) : { tasks: [] },
    ]);
    const last = new Map<string, Task>();
    for (const task of tasks.tasks as Task[]) if (task.appName && !last.has(task.appName)) last.set(task.appName, task);
    return { apps: list.apps as App[], last };
  }, [], 3000);

  return (
    <>
      <Title>Apps</Title>
      <Loaded state={apps}>
        {(data) => (
          <Table<App>
            caption="Apps"
            rows={data.apps}
            empty="No app yet."
            columns={[
              { title: "App", cell: (a) => <Link href={`/apps/${a.name}`}>{a.label || a.name}</Link> },
              { title: "Name", cell: (a) => <code>{a.name}</code> },
              { title: "State", cell: (a) => <StateBadge state={a.state} /> },
              { title: "Current build", cell: (a) => (a.iCurBuild ? `#${a.iCurBuild} ${a.builds.find((b) => b.id === a.iCurBuild)?.name ?? ""}` : "none") },
              {
                title: "Last task",
                cell: (a) => {
                  const task = data.last.get(a.name);
                  return task ? <Link href={`/tasks/${task.name}`}>{`${task.type} ${task.status}, ${when(task.created)}`}</Link> : "–";
                },
              },
            ]}
          />
        )}
      </Loaded>
      {can("apps", 1) && <NewApp />}
    </>
  );
}

function NewApp() {
  const [name, setName] = useState("");
  const [label, setLabel] = useState("");
  const [maxBuilds, setMaxBuilds] = useState("5");
  const [autoCommit, setAutoCommit] = useState(true);
  const create = async () => {
    await api("POST", "/be/v1/apps", { name, label: label || name, maxBuilds: Number(maxBuilds), autoCommit });
    navigate(`/apps/${name}`);
  };
  return (
    <section aria-labelledby="new-app">
      <h2 id="new-app">New app</h2>
      <Form label="New app" submit="Create app" action={create}>
        <Field label="Name" value={name} onValue={setName} required pattern="[A-Za-z0-9_]{2,50}" hint="2–50 letters, digits or _; it cannot change later" />
        <Field label="Label" value={label} onValue={setLabel} />
        <Field label="Builds kept" type="number" min={1} max={100} value={maxBuilds} onValue={setMaxBuilds} />
        <Check label="Publish each processed build at once (auto commit)" checked={autoCommit} onChange={setAutoCommit} />
      </Form>
    </section>
  );
}
