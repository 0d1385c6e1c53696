// The API's resources as the screens read them, and the small views they share.

export interface FileEntry {
  name: string;
  size: number;
  md5: string;
}

export interface Build {
  id: number;
  name: string;
  dxfName: string;
  created: string;
  sizeBytes: number;
}

export interface App {
  name: string;
  label: string;
  state: "idle" | "processing" | "exporting" | "error";
  iCurBuild: number;
  dxfName: string;
  maxBuilds: number;
  autoCommit: boolean;
  deployments: string[];
  deployed: string[];
  builds: Build[];
  staged: { id: number; name: string; dxfName: string; created: string } | null;
  error: { taskName: string; type: string; exception: unknown } | null;
  files: { dxf: FileEntry[]; patches: Record<string, FileEntry[]> };
  sizeBytes: number;
}

export interface Warning {
  id: string;
  code: string;
  message: string;
  acknowledged: boolean;
}

export interface Task {
  name: string;
  type: string;
  appName: string | null;
  group: string;
  status: "submitted" | "running" | "done" | "failed" | "expired";
  progress: number;
  phase: string | null;
  created: string;
  started: string | null;
  ended: string | null;
  attempts: number;
  warnings: Warning[];
  exception: Record<string, unknown> | null;
  result: unknown;
}

/** A state or status as a word with a colour that is never its only sign. */
export function StateBadge(props: { state: string }) {
  return <span class={`badge badge-${props.state}`}>{props.state}</span>;
}

/** A task's progress: a labelled progress bar while it runs, its status otherwise. */
export function TaskProgress(props: { task: Task }) {
  const { task } = props;
  if (task.status !== "running") return <StateBadge state={task.status} />;
  return (
    <span class="progress">
      <progress max={100} value={task.progress} aria-label={`${task.type} progress`} />
      <span>
        {Math.floor(task.progress)} %{task.phase ? ` · ${task.phase}` : ""}
      </span>
    </span>
  );
}
