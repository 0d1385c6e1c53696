// Login (user + password, then the org when the user is in several) and the way into
// instance-admin mode (an admin token pasted for this tab).
import { useState } from "preact/hooks";
import { adminApi, chooseOrg, login, setAdminToken } from "../api";
import { navigate } from "../router";
import { Action, Field, Form, Title } from "../ui";

interface Choice {
  orgs: { name: string; label: string }[];
  orgSelToken: string;
}

export function LoginScreen() {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [choice, setChoice] = useState<Choice | null>(null);
  const [token, setToken] = useState("");

  const signIn = async () => {
    const found = await login(username, password);
    if (found.orgs.length === 1) await chooseOrg(username, found.orgSelToken, found.orgs[0].name);
    else setChoice(found);
  };
  const enterAdmin = async () => {
    setAdminToken(token.trim());
    try {
      await adminApi("GET", "/adm/v1/orgs?limit=1");
    } catch (error) {
      setAdminToken(null);
      throw error;
    }
    navigate("/admin");
  };

  return (
    <main id="main" class="narrow">
      <p class="brand-line">rockit-edge</p>
      <Title>Log in</Title>
      {choice ? (
        <section aria-labelledby="org-choice">
          <h2 id="org-choice">Choose an organization</h2>
          <ul class="choices">
            {choice.orgs.map((org) => (
              <li>
                <Action label={`${org.label || org.name} (${org.name})`} action={() => chooseOrg(username, choice.orgSelToken, org.name)} />
              </li>
            ))}
          </ul>
          <button type="button" class="link" onClick={() => setChoice(null)}>
            Back
          </button>
        </section>
      ) : (
        <Form label="Log in" submit="Log in" action={signIn}>
          <Field label="Username" value={username} onValue={setUsername} autoComplete="username" required />
          <Field label="Password" type="password" value={password} onValue={setPassword} autoComplete="current-password" required />
        </Form>
      )}
      <details class="admin-entry">
        <summary>Instance administrator</summary>
        <Form label="Admin mode" submit="Enter admin mode" action={enterAdmin}>
          <Field
            label="Admin token"
            type="password"
            value={token}
            onValue={setToken}
            autoComplete="off"
            required
            hint="Print one on the server with: rockit-edge admin-token --username NAME"
          />
        </Form>
      </details>
    </main>
  );
}
