// Instance-admin mode: the orgs of the appliance (list, create with the initial password shown
// once, delete with or without pruning the files they published).
import { useState } from "preact/hooks";
import { adminApi, query, setAdminToken } from "../api";
import { navigate } from "../router";
import { Action, Check, Field, Form, Loaded, Secret, Table, Title, bytes, useLoad, when } from "../ui";

interface Org {
  name: string;
  label: string;
  apps: number;
  storageBytes: number;
  created: string;
}

export function AdminScreen() {
  const orgs = useLoad(() => adminApi("GET", `/adm/v1/orgs${query({ limit: 1000, "order[]": "name" })}`), []);
  const [name, setName] = useState("");
  const [label, setLabel] = useState("");
  const [password, setPassword] = useState("");
  const [created, setCreated] = useState<{ org: string; username: string; password?: string } | null>(null);
  const [prune, setPrune] = useState(true);

  const create = async () => {
    const answer = await adminApi("POST", "/adm/v1/orgs", { name, label: label || undefined, password: password || undefined });
    setCreated({ org: name, username: answer.adminUsername, password: answer.password });
    setName("");
    setLabel("");
    setPassword("");
    orgs.reload();
  };
  const leave = () => {
    setAdminToken(null);
    navigate("/", true);
  };

  return (
    <>
      <Title
        actions={
          <button type="button" onClick={leave}>
            Leave admin mode
          </button>
        }
      >
        Organizations
      </Title>
      <Loaded state={orgs}>
        {(data) => (
          <Table<Org>
            caption="Organizations"
            rows={data.orgs}
            empty="No organization yet: create the first one below."
            columns={[
              { title: "Name", cell: (o) => o.name },
              { title: "Label", cell: (o) => o.label },
              { title: "Apps", cell: (o) => o.apps },
              { title: "Storage", cell: (o) => bytes(o.storageBytes) },
              { title: "Created", cell: (o) => when(o.created) },
              {
                title: "Actions",
                cell: (o) => (
                  <Action
                    danger
                    label={`Delete ${o.name}`}
                    confirm={`Delete the org ${o.name} and every record of it${prune ? ", and every file it published" : ""}?`}
                    action={() => adminApi("DELETE", `/adm/v1/orgs/${o.name}${prune ? "?prune=true" : ""}`).then(orgs.reload)}
                  />
                ),
              },
            ]}
          />
        )}
      </Loaded>
      <Check label="Deleting an org also removes every file it published (prune)" checked={prune} onChange={setPrune} />
      <section aria-labelledby="new-org">
        <h2 id="new-org">New organization</h2>
        <Form label="New organization" submit="Create organization" action={create}>
          <Field label="Name" value={name} onValue={setName} required pattern="[A-Za-z0-9_]{2,50}" hint="2–50 letters, digits or _" />
          <Field label="Label" value={label} onValue={setLabel} />
          <Field
            label="Administrator's initial password (optional)"
            type="password"
            value={password}
            onValue={setPassword}
            autoComplete="new-password"
            hint="Empty: the appliance makes one and shows it once"
          />
        </Form>
        {created?.password && (
          <Secret
            title="Initial password"
            value={created.password}
            note={`The org ${created.org}'s administrator ${created.username} logs in with this password. It is shown only now.`}
          />
        )}
      </section>
    </>
  );
}
