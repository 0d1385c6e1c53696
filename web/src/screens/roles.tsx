// Roles: what each grants, edited as a matrix (a checkbox per resource and permission bit).
import { useState } from "preact/hooks";
import { api, can, query } from "../api";
import { navigate } from "../router";
import { Action, Field, Form, Link, Loaded, Table, Title, useLoad } from "../ui";

/** Resources and the bits each may hold (API.md §3). */
const MAXIMA: Record<string, number> = {
  apps: 15,
  beUsers: 15,
  bundles: 15,
  consumption: 2,
  dependencies: 15,
  deployments: 15,
  keys: 15,
  roles: 15,
  sources: 15,
  subscriptions: 15,
  tasks: 31,
  trainings: 6,
};
const BITS: [number, string][] = [
  [1, "create"],
  [2, "read"],
  [4, "update"],
  [8, "delete"],
  [16, "execute"],
];

type Permissions = Record<string, number>;

interface Role {
  name: string;
  label: string;
  permissions: Permissions;
}

/** `{apps: 15}` → `apps CRUD`, per resource that holds any bit. */
function summary(permissions: Permissions): string {
  return Object.entries(permissions)
    .filter(([, mask]) => mask)
    .map(([resource, mask]) => `${resource} ${BITS.filter(([bit]) => mask & bit).map(([, n]) => n[0].toUpperCase()).join("")}`)
    .join(", ");
}

export function RolesScreen() {
  const roles = useLoad(() => api("GET", `/be/v1/roles${query({ limit: 1000, "order[]": "name" })}`), []);
  const [name, setName] = useState("");
  const [label, setLabel] = useState("");
  const [permissions, setPermissions] = useState<Permissions>({});
  const create = async () => {
    await api("POST", "/be/v1/roles", { name, label: label || undefined, permissions });
    navigate(`/roles/${name}`);
  };
  return (
    <>
      <Title>Roles</Title>
      <Loaded state={roles}>
        {(data) => (
          <Table<Role>
            caption="Roles"
            rows={data.roles}
            empty="No role."
            columns={[
              { title: "Role", cell: (r) => <Link href={`/roles/${r.name}`}>{r.name}</Link> },
              { title: "Label", cell: (r) => r.label },
              { title: "Grants", cell: (r) => <small>{summary(r.permissions) || "nothing"}</small> },
            ]}
          />
        )}
      </Loaded>
      {can("roles", 1) && (
        <section aria-labelledby="new-role">
          <h2 id="new-role">New role</h2>
          <Form label="New role" submit="Create role" action={create}>
            <Field label="Name" value={name} onValue={setName} required pattern="[A-Za-z0-9_]{2,50}" />
            <Field label="Label" value={label} onValue={setLabel} />
            <Matrix permissions={permissions} onChange={setPermissions} />
          </Form>
        </section>
      )}
    </>
  );
}

export function RoleScreen(props: { name: string }) {
  const one = useLoad(() => api("GET", `/be/v1/roles/${props.name}`), [props.name]);
  return (
    <Loaded state={one}>
      {(data) => <RoleEditor role={data.role as Role} onSaved={one.reload} />}
    </Loaded>
  );
}

function RoleEditor(props: { role: Role; onSaved: () => void }) {
  const { role } = props;
  const [label, setLabel] = useState(role.label);
  const [permissions, setPermissions] = useState<Permissions>(role.permissions);
  const editable = can("roles", 4) && role.name !== "Administrators";
  return (
    <>
      <Title>{`Role ${role.name}`}</Title>
      {role.name === "Administrators" && <p class="muted">Every org's Administrators role holds every permission; it cannot change.</p>}
      <Form label="Edit role" submit="Save role" action={() => api("PATCH", "/be/v1/roles", { name: role.name, label, permissions }).then(props.onSaved)}>
        <Field label="Label" value={label} onValue={setLabel} disabled={!editable} />
        <Matrix permissions={permissions} onChange={setPermissions} disabled={!editable} />
      </Form>
      {can("roles", 8) && role.name !== "Administrators" && (
        <section aria-labelledby="delete-h">
          <h2 id="delete-h">Delete</h2>
          <Action danger label="Delete role" confirm={`Delete the role ${role.name}?`} action={() => api("DELETE", `/be/v1/roles/${role.name}`).then(() => navigate("/roles"))} />
        </section>
      )}
    </>
  );
}

/** The permission matrix: one row per resource, one checkbox per bit it may hold. */
function Matrix(props: { permissions: Permissions; onChange: (next: Permissions) => void; disabled?: boolean }) {
  const flip = (resource: string, bit: number, on: boolean) => {
    const mask = props.permissions[resource] ?? 0;
    props.onChange({ ...props.permissions, [resource]: on ? mask | bit : mask & ~bit });
  };
  return (
    <fieldset>
      <legend>Permissions</legend>
      <table class="matrix">
        <thead>
          <tr>
            <th scope="col">Resource</th>
            {BITS.map(([, name]) => (
              <th scope="col">
                <span class="long">{name}</span>
                <span class="short" aria-hidden="true">
                  {name[0].toUpperCase()}
                </span>
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {Object.entries(MAXIMA).map(([resource, max]) => (
            <tr>
              <th scope="row">{resource}</th>
              {BITS.map(([bit, name]) => (
                <td>
                  {max & bit ? (
                    <input
                      type="checkbox"
                      aria-label={`${resource} ${name}`}
                      checked={((props.permissions[resource] ?? 0) & bit) !== 0}
                      disabled={props.disabled}
                      onChange={(e) => flip(resource, bit, (e.target as HTMLInputElement).checked)}
                    />
                  ) : null}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </fieldset>
  );
}
