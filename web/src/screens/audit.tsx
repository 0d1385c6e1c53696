// The audit trail: who did what, from where, with what result; filtered and paged.
import { useState } from "preact/hooks";
import { api, query } from "../api";
import { Field, Loaded, Table, Title, useLoad, when } from "../ui";

interface Activity {
  id: number;
  time: string;
  actor: string;
  action: string;
  target: string;
  result: number;
  clientAddress: string;
}

const PAGE = 50;

export function AuditScreen() {
  const [actor, setActor] = useState("");
  const [action, setAction] = useState("");
  const [offset, setOffset] = useState(0);
  const trail = useLoad(() => api("GET", `/be/v1/activities${query({ actor, action, offset, limit: PAGE })}`), [actor, action, offset]);
  const filter = (set: (v: string) => void) => (value: string) => {
    set(value);
    setOffset(0);
  };
  return (
    <>
      <Title>Audit trail</Title>
      <form aria-label="Filter the audit trail" class="filters" onSubmit={(e) => e.preventDefault()}>
        <Field label="Actor" value={actor} onValue={filter(setActor)} type="search" />
        <Field label="Action contains" value={action} onValue={filter(setAction)} type="search" />
      </form>
      <Loaded state={trail}>
        {(data) => (
          <>
            <Table<Activity>
              caption="Audit trail"
              rows={data.activities}
              empty="Nothing recorded."
              columns={[
                { title: "Time", cell: (a) => when(a.time) },
                { title: "Actor", cell: (a) => a.actor },
                { title: "Action", cell: (a) => <code class="wrap">{a.action}</code> },
                { title: "Result", cell: (a) => a.result },
                { title: "From", cell: (a) => a.clientAddress },
              ]}
            />
            <nav aria-label="Pages" class="actions">
              <button type="button" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE))}>
                Newer
              </button>
              <span>
                {data.total ? `${offset + 1}–${Math.min(offset + PAGE, data.total)} of ${data.total}` : ""}
              </span>
              <button type="button" disabled={offset + PAGE >= data.total} onClick={() => setOffset(offset + PAGE)}>
                Older
              </button>
            </nav>
          </>
        )}
      </Loaded>
    </>
  );
}
