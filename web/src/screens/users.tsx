// People and machine users: create (an initial password or API key shown once), edit roles,
// reset credentials, more API keys for machines, delete; a person changes their own password.
import { useState } from "preact/hooks";
import { api, can, query, session } from "../api";
import { navigate } from "../router";
import { Action, Check, Field, Form, Link, Loaded, Secret, Select, Table, Title, useLoad, when } from "../ui";

interface User {
  username: string;
  type: "person" | "machine";
  roles: string[];
  label?: string;
  apiKeys?: { keyId: string; label: string; created: string }[];
  email?: string;
  firstname?: string;
  surname?: string;
  created: string;
}

/** The secret an answer carries once, and what it is. */
type Shown = { title: string; value: string; note: string } | null;

function useRoleNames() {
  return useLoad(async () => {
    const answer = await api("GET", `/be/v1/roles${query({ limit: 1000, "order[]": "name" })}`);
    return (answer.roles as { name: string }[]).map((r) => r.name);
  }, []);
}

function RolePicker(props: { all: string[]; chosen: string[]; onChange: (roles: string[]) => void }) {
  return (
    <fieldset>
      <legend>Roles</legend>
      {props.all.map((role) => (
        <Check
          label={role}
          checked={props.chosen.includes(role)}
          onChange={(on) => props.onChange(on ? [...props.chosen, role] : props.chosen.filter((r) => r !== role))}
        />
      ))}
    </fieldset>
  );
}

export function UsersScreen() {
  const users = useLoad(() => api("GET", `/be/v1/users${query({ limit: 1000, "order[]": "username" })}`), []);
  const [shown, setShown] = useState<Shown>(null);
  return (
    <>
      <Title>Users</Title>
      <Loaded state={users}>
        {(data) => (
          <Table<User>
            caption="Users"
            rows={data.users}
            empty="No user."
            columns={[
              { title: "User", cell: (u) => <Link href={`/users/${u.username}`}>{u.username}</Link> },
              { title: "Kind", cell: (u) => (u.type === "machine" ? "machine user" : "person") },
              { title: "Name", cell: (u) => (u.type === "machine" ? u.label : [u.firstname, u.surname].filter(Boolean).join(" ")) },
              { title: "Roles", cell: (u) => u.roles.join(", ") },
              { title: "Created", cell: (u) => when(u.created) },
            ]}
          />
        )}
      </Loaded>
      {shown && <Secret {...shown} />}
      {can("beUsers", 1) && (
        <NewUser
          onCreated={(secret) => {
            setShown(secret);
            users.reload();
          }}
        />
      )}
    </>
  );
}

function NewUser(props: { onCreated: (shown: Shown) => void }) {
  const roles = useRoleNames();
  const [kind, setKind] = useState("person");
  const [username, setUsername] = useState("");
  const [label, setLabel] = useState("");
  const [email, setEmail] = useState("");
  const [firstname, setFirstname] = useState("");
  const [surname, setSurname] = useState("");
  const [chosen, setChosen] = useState<string[]>([]);
  const create = async () => {
    const body = kind === "machine" ? { username, label, roles: chosen } : { username, email, firstname, surname, roles: chosen };
    const answer = await api("POST", "/be/v1/users", body);
    props.onCreated(
      answer.apiKey
        ? { title: "API key", value: answer.apiKey, note: `The API key of ${username}. It is shown only now: store it in your CI's secrets.` }
        : { title: "Initial password", value: answer.password, note: `${username} logs in with this password. It is shown only now.` },
    );
    setUsername("");
  };
  return (
    <section aria-labelledby="new-user">
      <h2 id="new-user">New user</h2>
      <Form label="New user" submit="Create user" action={create}>
        <Select label="Kind" value={kind} onValue={setKind} options={[["person", "person (logs in with a password)"], ["machine", "machine user (API key, for CI)"]]} />
        <Field label="Username" value={username} onValue={setUsername} required pattern="[A-Za-z0-9_]{2,50}" />
        {kind === "machine" ? (
          <Field label="Label" value={label} onValue={setLabel} required />
        ) : (
          <>
            <Field label="Email" type="email" value={email} onValue={setEmail} required />
            <Field label="First name" value={firstname} onValue={setFirstname} required />
            <Field label="Surname" value={surname} onValue={setSurname} required />
          </>
        )}
        <Loaded state={roles}>{(all) => <RolePicker all={all} chosen={chosen} onChange={setChosen} />}</Loaded>
      </Form>
    </section>
  );
}

export function UserScreen(props: { name: string }) {
  const one = useLoad(() => api("GET", `/be/v1/users/${props.name}`), [props.name]);
  const [shown, setShown] = useState<Shown>(null);
  return (
    <Loaded state={one}>
      {(data) => {
        const user = data.user as User;
        const self = session()?.username === user.username;
        return (
          <>
            <Title>{user.username}</Title>
            <p class="summary">
              {user.type === "machine" ? "Machine user" : "Person"} · roles {user.roles.join(", ") || "none"} · created {when(user.created)}
            </p>
            {shown && <Secret {...shown} />}
            {(can("beUsers", 4) || self) && <EditUser user={user} onSaved={one.reload} />}
            {self && user.type === "person" && <OwnPassword username={user.username} />}
            {can("beUsers", 4) && (
              <Credentials
                user={user}
                onShown={(secret) => {
                  setShown(secret);
                  one.reload();
                }}
                reload={one.reload}
              />
            )}
            {can("beUsers", 8) && (
              <section aria-labelledby="delete-h">
                <h2 id="delete-h">Delete</h2>
                <Action danger label="Delete user" confirm={`Delete ${user.username}?`} action={() => api("DELETE", `/be/v1/users/${user.username}`).then(() => navigate("/users"))} />
              </section>
            )}
          </>
        );
      }}
    </Loaded>
  );
}

function EditUser(props: { user: User; onSaved: () => void }) {
  const { user } = props;
  const roles = useRoleNames();
  const [label, setLabel] = useState(user.label ?? "");
  const [email, setEmail] = useState(user.email ?? "");
  const [firstname, setFirstname] = useState(user.firstname ?? "");
  const [surname, setSurname] = useState(user.surname ?? "");
  const [chosen, setChosen] = useState(user.roles);
  const save = () => {
    const fields = user.type === "machine" ? { label } : { email, firstname, surname };
    const changedRoles = can("beUsers", 4) ? { roles: chosen } : {};
    return api("PATCH", "/be/v1/users", { username: user.username, ...fields, ...changedRoles }).then(props.onSaved);
  };
  return (
    <section aria-labelledby="edit-h">
      <h2 id="edit-h">Edit</h2>
      <Form label="Edit user" submit="Save user" action={save}>
        {user.type === "machine" ? (
          <Field label="Label" value={label} onValue={setLabel} />
        ) : (
          <>
            <Field label="Email" type="email" value={email} onValue={setEmail} />
            <Field label="First name" value={firstname} onValue={setFirstname} />
            <Field label="Surname" value={surname} onValue={setSurname} />
          </>
        )}
        {can("beUsers", 4) && <Loaded state={roles}>{(all) => <RolePicker all={all} chosen={chosen} onChange={setChosen} />}</Loaded>}
      </Form>
    </section>
  );
}

function OwnPassword(props: { username: string }) {
  const [oldPW, setOld] = useState("");
  const [newPW, setNew] = useState("");
  const [done, setDone] = useState(false);
  const change = async () => {
    await api("PATCH", "/be/v1/users", { username: props.username, oldPW, newPW });
    setOld("");
    setNew("");
    setDone(true);
  };
  return (
    <section aria-labelledby="password-h">
      <h2 id="password-h">Your password</h2>
      <Form label="Change your password" submit="Change password" action={change}>
        <Field label="Current password" type="password" value={oldPW} onValue={setOld} autoComplete="current-password" required />
        <Field label="New password" type="password" value={newPW} onValue={setNew} autoComplete="new-password" required />
      </Form>
      {done && <p role="status">Password changed.</p>}
    </section>
  );
}

function Credentials(props: { user: User; onShown: (shown: Shown) => void; reload: () => void }) {
  const { user } = props;
  const [keyLabel, setKeyLabel] = useState("");
  const reset = async () => {
    const answer = await api("PATCH", "/be/v1/users", { username: user.username, resetCreds: true });
    props.onShown(
      answer.apiKey
        ? { title: "API key", value: answer.apiKey, note: "The new API key; every older key of this user stopped working. It is shown only now." }
        : { title: "New password", value: answer.password, note: `${user.username}'s new password. It is shown only now.` },
    );
  };
  const addKey = async () => {
    const answer = await api("POST", "/be/v1/apikeys", { username: user.username, label: keyLabel || undefined });
    props.onShown({ title: "API key", value: answer.apiKey, note: `An additional API key (id ${answer.keyId}). It is shown only now.` });
    setKeyLabel("");
  };
  return (
    <section aria-labelledby="creds-h">
      <h2 id="creds-h">Credentials</h2>
      {user.apiKeys && (
        <Table
          caption="API keys"
          rows={user.apiKeys}
          empty="No API key: add one below."
          columns={[
            { title: "Key id", cell: (k) => <code>{k.keyId}</code> },
            { title: "Label", cell: (k) => k.label || "–" },
            { title: "Created", cell: (k) => when(k.created) },
            {
              title: "Actions",
              cell: (k) => (
                <Action
                  danger
                  label={`Revoke ${k.keyId}`}
                  confirm={`Revoke API key ${k.keyId}? Whatever uses it stops working at once.`}
                  action={() => api("DELETE", `/be/v1/apikeys/${k.keyId}`).then(props.reload)}
                />
              ),
            },
          ]}
        />
      )}
      {user.type === "machine" && (
        <Form label="Add an API key" submit="Add API key" action={addKey}>
          <Field label="Key label (optional)" value={keyLabel} onValue={setKeyLabel} />
        </Form>
      )}
      <Action label={user.type === "machine" ? "Replace every API key" : "Reset password"} action={reset} />
    </section>
  );
}
