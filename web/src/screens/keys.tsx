// Access keys: what a launcher presents to POST /client/v1/auth for one app.
import { useState } from "preact/hooks";
import { api, can, query } from "../api";
import { Action, Field, Form, Loaded, Secret, Select, Table, Title, useLoad, when } from "../ui";

interface AccessKey {
  id: string;
  appName: string;
  label: string;
  created: string;
  expires: string | null;
}

export function KeysScreen() {
  const keys = useLoad(() => api("GET", `/be/v1/keys${query({ limit: 1000 })}`), []);
  const apps = useLoad(() => api("GET", `/be/v1/apps${query({ limit: 1000, "order[]": "name", "fields[]": "name" })}`), []);
  const [appName, setAppName] = useState("");
  const [label, setLabel] = useState("");
  const [expires, setExpires] = useState("");
  const [key, setKey] = useState<string | null>(null);
  const create = async () => {
    const answer = await api("POST", "/be/v1/keys", {
      appName,
      label: label || undefined,
      expires: expires ? new Date(expires).toISOString() : undefined,
    });
    setKey(answer.key);
    keys.reload();
  };
  return (
    <>
      <Title>Access keys</Title>
      <p class="muted">A launcher presents an app's access key to get the current build's files and signed download URLs.</p>
      <Loaded state={keys}>
        {(data) => (
          <Table<AccessKey>
            caption="Access keys"
            rows={data.keys}
            empty="No access key yet."
            columns={[
              { title: "Id", cell: (k) => <code>{k.id}</code> },
              { title: "App", cell: (k) => k.appName },
              { title: "Label", cell: (k) => k.label },
              { title: "Created", cell: (k) => when(k.created) },
              { title: "Expires", cell: (k) => (k.expires ? when(k.expires) : "never") },
              {
                title: "Actions",
                cell: (k) =>
                  can("keys", 8) ? <Action danger label={`Revoke ${k.id}`} confirm={`Revoke access key ${k.id}?`} action={() => api("DELETE", `/be/v1/keys/${k.id}`).then(keys.reload)} /> : null,
              },
            ]}
          />
        )}
      </Loaded>
      {key && <Secret title="Access key" value={key} note="Give it to the launcher. It is shown only now." />}
      {can("keys", 1) && (
        <section aria-labelledby="new-key">
          <h2 id="new-key">New access key</h2>
          <Loaded state={apps}>
            {(data) => (
              <Form label="New access key" submit="Create access key" action={create}>
                <Select label="App" value={appName} onValue={setAppName} options={[["", "choose an app"], ...(data.apps as { name: string }[]).map((a): [string, string] => [a.name, a.name])]} />
                <Field label="Label (optional)" value={label} onValue={setLabel} />
                <Field label="Expires (optional)" type="datetime-local" value={expires} onValue={setExpires} />
              </Form>
            )}
          </Loaded>
        </section>
      )}
    </>
  );
}
