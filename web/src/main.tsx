// The UI's entry: the page frame (navigation by permission, who is logged in, log out) and
// which screen a path shows.
import "./style.css";
import { render, type ComponentChildren, type JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { adminToken, can, logout, onAuthChange, session } from "./api";
import { AdminScreen } from "./screens/admin";
import { AppScreen } from "./screens/app";
import { AppsScreen } from "./screens/apps";
import { AuditScreen } from "./screens/audit";
import { DeploymentScreen, DeploymentsScreen } from "./screens/deployments";
import { KeysScreen } from "./screens/keys";
import { LoginScreen } from "./screens/login";
import { RoleScreen, RolesScreen } from "./screens/roles";
import { SubscriptionsScreen } from "./screens/subscriptions";
import { TaskScreen, TasksScreen } from "./screens/tasks";
import { UserScreen, UsersScreen } from "./screens/users";
import { match, navigate, usePath } from "./router";
import { Link } from "./ui";

/** Screens of a logged-in session: path pattern, the screen, and the nav entry if any. */
const SCREENS: { pattern: string; show: (p: Record<string, string>) => JSX.Element; nav?: [string, string] }[] = [
  { pattern: "/apps", show: () => <AppsScreen />, nav: ["Apps", "apps"] },
  { pattern: "/apps/:name", show: (p) => <AppScreen name={p.name} /> },
  { pattern: "/deployments", show: () => <DeploymentsScreen />, nav: ["Deployments", "deployments"] },
  { pattern: "/deployments/:name", show: (p) => <DeploymentScreen name={p.name} /> },
  { pattern: "/tasks", show: () => <TasksScreen />, nav: ["Tasks", "tasks"] },
  { pattern: "/tasks/:name", show: (p) => <TaskScreen name={p.name} /> },
  { pattern: "/users", show: () => <UsersScreen />, nav: ["Users", "beUsers"] },
  { pattern: "/users/:name", show: (p) => <UserScreen name={p.name} /> },
  { pattern: "/roles", show: () => <RolesScreen />, nav: ["Roles", "roles"] },
  { pattern: "/roles/:name", show: (p) => <RoleScreen name={p.name} /> },
  { pattern: "/keys", show: () => <KeysScreen />, nav: ["Access keys", "keys"] },
  { pattern: "/subscriptions", show: () => <SubscriptionsScreen />, nav: ["Subscriptions", "subscriptions"] },
  { pattern: "/audit", show: () => <AuditScreen />, nav: ["Audit trail", "beUsers"] },
];

function useAuth() {
  const [, setTick] = useState(0);
  useEffect(() => onAuthChange(() => setTick((t) => t + 1)), []);
  return { current: session(), admin: adminToken() };
}

function Frame(props: { nav: ComponentChildren; who: ComponentChildren; children: ComponentChildren }) {
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">rockit-edge</span>
        <nav aria-label="Main">{props.nav}</nav>
        <div class="who">{props.who}</div>
      </header>
      <main id="main" tabIndex={-1}>
        {props.children}
      </main>
      <footer class="bottom">
        <a href="/api/openapi.json">API reference (OpenAPI)</a>
      </footer>
    </>
  );
}

function App() {
  const path = usePath();
  const { current, admin } = useAuth();

  if (path.startsWith("/admin") && admin) {
    return (
      <Frame nav={<Link href="/admin">Orgs</Link>} who={<span>instance administrator</span>}>
        <AdminScreen />
      </Frame>
    );
  }
  if (!current) return <LoginScreen />;
  if (path === "/" || path === "/login") {
    navigate("/apps", true);
    return null;
  }
  const found = SCREENS.map((s) => ({ s, params: match(s.pattern, path) })).find((x) => x.params);
  const nav = SCREENS.filter((s) => s.nav && can(s.nav[1], 2)).map((s) => (
    <Link href={s.pattern} current={path === s.pattern || path.startsWith(`${s.pattern}/`)}>
      {s.nav![0]}
    </Link>
  ));
  const who = (
    <>
      <span>
        {current.username} · {current.org}
      </span>
      <button type="button" class="link" onClick={() => logout().then(() => navigate("/", true))}>
        Log out
      </button>
    </>
  );
  return (
    <Frame nav={nav} who={who}>
      {found ? found.s.show(found.params!) : <p>There is no page at {path}.</p>}
    </Frame>
  );
}

render(<App />, document.getElementById("root")!);
