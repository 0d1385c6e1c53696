// Subscriptions: where the org's events go (a webhook URL or a Slack channel), with the signing
// secret shown once, delivery health, and removal.
import { useState } from "preact/hooks";
import { api, can, query } from "../api";
import { Action, Check, Field, Form, Loaded, Secret, Select, Table, Title, useLoad } from "../ui";

interface Subscription {
  name: string;
  url?: string;
  slack?: { channel: string };
  events: string[];
  apps: string[];
  failing: number;
  dropped: number;
  lastError: string | null;
}

const EVENTS = ["dltar", "mkraw", "deploy", "mkseq"].flatMap((task) => ["submit", "begin", "end", "error"].map((step) => `${task}.${step}`));

export function SubscriptionsScreen() {
  const list = useLoad(() => api("GET", `/be/v1/subscriptions${query({ limit: 1000, "order[]": "name" })}`), []);
  const [secret, setSecret] = useState<string | null>(null);
  return (
    <>
      <Title>Subscriptions</Title>
      <Loaded state={list}>
        {(data) => (
          <Table<Subscription>
            caption="Subscriptions"
            rows={data.subscriptions}
            empty="No subscription yet."
            columns={[
              { title: "Name", cell: (s) => s.name },
              { title: "Goes to", cell: (s) => <code class="wrap">{s.url ?? `Slack ${s.slack?.channel}`}</code> },
              { title: "Events", cell: (s) => (s.events.length ? s.events.join(", ") : "all") },
              { title: "Apps", cell: (s) => (s.apps.length ? s.apps.join(", ") : "all") },
              { title: "Delivery", cell: (s) => (s.failing ? `${s.failing} failing: ${s.lastError ?? ""}` : "ok") },
              {
                title: "Actions",
                cell: (s) =>
                  can("subscriptions", 8) ? (
                    <Action danger label={`Delete ${s.name}`} confirm={`Delete the subscription ${s.name}?`} action={() => api("DELETE", `/be/v1/subscriptions/${s.name}`).then(list.reload)} />
                  ) : null,
              },
            ]}
          />
        )}
      </Loaded>
      {secret && <Secret title="Signing secret" value={secret} note="Webhooks carry a JWT signed with this secret in x-rockit-subscriptions. It is shown only now." />}
      {can("subscriptions", 1) && (
        <NewSubscription
          onCreated={(s) => {
            setSecret(s);
            list.reload();
          }}
        />
      )}
    </>
  );
}

function NewSubscription(props: { onCreated: (secret: string) => void }) {
  const [name, setName] = useState("");
  const [kind, setKind] = useState("url");
  const [url, setUrl] = useState("");
  const [channel, setChannel] = useState("");
  const [token, setToken] = useState("");
  const [events, setEvents] = useState<string[]>([]);
  const [apps, setApps] = useState("");
  const create = async () => {
    const target = kind === "url" ? { url } : { slack: { channel, token } };
    const appList = apps.split(",").map((a) => a.trim()).filter(Boolean);
    const answer = await api("POST", "/be/v1/subscriptions", { name, ...target, events: events.length ? events : undefined, apps: appList.length ? appList : undefined });
    props.onCreated(answer.secret);
    setName("");
  };
  return (
    <section aria-labelledby="new-subscription">
      <h2 id="new-subscription">New subscription</h2>
      <Form label="New subscription" submit="Subscribe" action={create}>
        <Field label="Name" value={name} onValue={setName} required pattern="[A-Za-z0-9_]{2,50}" />
        <Select label="Deliver to" value={kind} onValue={setKind} options={[["url", "a webhook URL"], ["slack", "a Slack channel"]]} />
        {kind === "url" ? (
          <Field label="Webhook URL" type="url" value={url} onValue={setUrl} required />
        ) : (
          <>
            <Field label="Slack channel" value={channel} onValue={setChannel} required />
            <Field label="Slack bot token" type="password" value={token} onValue={setToken} required autoComplete="off" />
          </>
        )}
        <fieldset>
          <legend>Events (none checked: all)</legend>
          <div class="grid-checks">
            {EVENTS.map((event) => (
              <Check label={event} checked={events.includes(event)} onChange={(on) => setEvents(on ? [...events, event] : events.filter((e) => e !== event))} />
            ))}
          </div>
        </fieldset>
        <Field label="Only these apps (comma separated, empty: all)" value={apps} onValue={setApps} />
      </Form>
    </section>
  );
}
