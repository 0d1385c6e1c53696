// Deployments (S3-compatible CDN origins and their download auth): list with the credential
// probe's status, create, edit with secrets masked (an untouched secret stays as it is), delete.
import { useState } from "preact/hooks";
import { api, can, query } from "../api";
import { navigate } from "../router";
import { Action, Check, Field, Form, Link, Loaded, Select, Table, Title, useLoad, when } from "../ui";
import { StateBadge } from "./model";

interface S3 {
  hostname: string;
  accessKey: string;
  secretKey: string;
  location: string;
  bucket: string;
  prefix: string | null;
}

interface Deployment {
  name: string;
  label: string;
  origin: { s3: S3 };
  dlAuth: { gcore?: Record<string, unknown>; akamai?: Record<string, unknown> } | null;
  status: string;
  statusMessage: string | null;
  updated: string;
}

export function DeploymentsScreen() {
  const list = useLoad(() => api("GET", `/be/v1/deployments${query({ limit: 1000, "order[]": "name" })}`), [], 5000);
  return (
    <>
      <Title>Deployments</Title>
      <Loaded state={list}>
        {(data) => (
          <Table<Deployment>
            caption="Deployments"
            rows={data.deployments}
            empty="No deployment yet: the depot serves every app; add a CDN origin below."
            columns={[
              { title: "Deployment", cell: (d) => <Link href={`/deployments/${d.name}`}>{d.label || d.name}</Link> },
              { title: "Origin", cell: (d) => <code class="wrap">{`${d.origin.s3.hostname}/${d.origin.s3.bucket}/${d.origin.s3.prefix ?? ""}`}</code> },
              { title: "Download auth", cell: (d) => (d.dlAuth ? Object.keys(d.dlAuth)[0] : "none") },
              { title: "Status", cell: (d) => <Status deployment={d} /> },
            ]}
          />
        )}
      </Loaded>
      {can("deployments", 1) && (
        <section aria-labelledby="new-deployment">
          <h2 id="new-deployment">New deployment</h2>
          <DeploymentForm onSaved={(name) => navigate(`/deployments/${name}`)} />
        </section>
      )}
    </>
  );
}

function Status(props: { deployment: Deployment }) {
  return (
    <span>
      <StateBadge state={props.deployment.status} />
      {props.deployment.statusMessage && <small class="wrap"> {props.deployment.statusMessage}</small>}
    </span>
  );
}

export function DeploymentScreen(props: { name: string }) {
  const one = useLoad(() => api("GET", `/be/v1/deployments/${props.name}`), [props.name]);
  return (
    <Loaded state={one}>
      {(data) => {
        const d = data.deployment as Deployment;
        return (
          <>
            <Title>{d.label || d.name}</Title>
            <p class="summary">
              <code>{d.name}</code> <Status deployment={d} /> · updated {when(d.updated)}
            </p>
            {can("deployments", 4) && (
              <section aria-labelledby="edit-h">
                <h2 id="edit-h">Edit</h2>
                <DeploymentForm existing={d} onSaved={one.reload} />
              </section>
            )}
            {can("deployments", 8) && (
              <section aria-labelledby="delete-h">
                <h2 id="delete-h">Delete</h2>
                <p>Deleting removes this org's files from the origin. An app that registers it must deregister it first.</p>
                <Action danger label="Delete deployment" confirm={`Delete ${d.name}?`} action={() => api("DELETE", `/be/v1/deployments/${d.name}`).then(() => navigate("/deployments"))} />
              </section>
            )}
          </>
        );
      }}
    </Loaded>
  );
}

const text = (value: unknown) => (value === null || value === undefined ? "" : String(value));
type AuthKind = "none" | "gcore" | "akamai";

/** Create (no `existing`) or edit. Secret fields start empty; empty on edit means unchanged. */
function DeploymentForm(props: { existing?: Deployment; onSaved: (name: string) => void }) {
  const old = props.existing;
  const s3 = old?.origin.s3;
  const oldKind: AuthKind = old?.dlAuth?.gcore ? "gcore" : old?.dlAuth?.akamai ? "akamai" : "none";
  const oldAuth = (old?.dlAuth?.gcore ?? old?.dlAuth?.akamai ?? {}) as Record<string, unknown>;
  const [name, setName] = useState("");
  const [label, setLabel] = useState(old?.label ?? "");
  const [hostname, setHostname] = useState(s3?.hostname ?? "");
  const [accessKey, setAccessKey] = useState(s3?.accessKey ?? "");
  const [secretKey, setSecretKey] = useState("");
  const [location, setLocation] = useState(s3?.location ?? "");
  const [bucket, setBucket] = useState(s3?.bucket ?? "");
  const [prefix, setPrefix] = useState(text(s3?.prefix));
  const [kind, setKind] = useState<AuthKind>(oldKind);
  const [baseUrl, setBaseUrl] = useState(text(oldAuth.baseUrl));
  const [secret, setSecret] = useState("");
  const [ttl, setTtl] = useState(text(oldAuth.ttl));
  const [clientIp, setClientIp] = useState(oldAuth.clientIp === true);
  const keepSecrets = old !== undefined;
  const sameKind = keepSecrets && kind === oldKind;

  const save = async () => {
    const origin: Record<string, unknown> = { hostname, accessKey, location, bucket, prefix: prefix || (keepSecrets ? null : undefined) };
    if (secretKey || !keepSecrets) origin.secretKey = secretKey;
    let dlAuth: unknown = kind === "none" ? (oldKind === "none" ? undefined : null) : undefined;
    if (kind !== "none") {
      const group: Record<string, unknown> = { baseUrl, ttl: ttl ? Number(ttl) : sameKind ? null : undefined };
      if (kind === "gcore") group.clientIp = clientIp;
      if (secret || !sameKind) group[kind === "gcore" ? "secureToken" : "key"] = secret;
      dlAuth = { [kind]: group };
    }
    const body = { name: old?.name ?? name, label, origin: { s3: origin }, dlAuth };
    await api(old ? "PATCH" : "POST", "/be/v1/deployments", body);
    props.onSaved(body.name);
  };
  const secretHint = (stored: boolean) => (stored ? "Stored and hidden; leave empty to keep it" : undefined);

  return (
    <Form label={old ? "Edit deployment" : "New deployment"} submit={old ? "Save deployment" : "Create deployment"} action={save}>
      {!old && <Field label="Name" value={name} onValue={setName} required pattern="[A-Za-z0-9_\[\]]{2,50}" hint="2–50 letters, digits, _ or []" />}
      <Field label="Label" value={label} onValue={setLabel} />
      <fieldset>
        <legend>S3 origin</legend>
        <Field label="Endpoint (host[:port], or http://host:port for a local store)" value={hostname} onValue={setHostname} required />
        <Field label="Region" value={location} onValue={setLocation} required />
        <Field label="Bucket" value={bucket} onValue={setBucket} required />
        <Field label="Prefix (optional)" value={prefix} onValue={setPrefix} />
        <Field label="Access key" value={accessKey} onValue={setAccessKey} required autoComplete="off" />
        <Field label="Secret key" type="password" value={secretKey} onValue={setSecretKey} required={!keepSecrets} autoComplete="new-password" hint={secretHint(keepSecrets)} />
      </fieldset>
      <fieldset>
        <legend>Signed downloads</legend>
        <Select
          label="CDN token"
          value={kind}
          onValue={(v) => setKind(v as AuthKind)}
          options={[
            ["none", "none (launchers use the depot)"],
            ["gcore", "Gcore secure token"],
            ["akamai", "Akamai token auth 2.0"],
          ]}
        />
        {kind !== "none" && (
          <>
            <Field label="CDN base URL" type="url" value={baseUrl} onValue={setBaseUrl} required />
            <Field
              label={kind === "gcore" ? "Secure token" : "Key (hex)"}
              type="password"
              value={secret}
              onValue={setSecret}
              required={!sameKind}
              autoComplete="new-password"
              hint={secretHint(sameKind)}
            />
            <Field label="URL lifetime in seconds (optional, default 3600)" type="number" min={1} value={ttl} onValue={setTtl} />
            {kind === "gcore" && <Check label="Bind each URL to the launcher's IP address" checked={clientIp} onChange={setClientIp} />}
          </>
        )}
      </fieldset>
    </Form>
  );
}
