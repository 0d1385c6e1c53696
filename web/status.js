// Fills the status table from /srv/v1/ping and /healthz.
async function refresh() {
  const set = (id, text, ok) => {
    const cell = document.getElementById(id);
    cell.textContent = text;
    cell.className = ok ? "ok" : "bad";
  };
  try {
    const ping = await fetch("/srv/v1/ping", { method: "POST" });
    set("ping", ping.ok ? "answering" : `HTTP ${ping.status}`, ping.ok);
  } catch (e) {
    set("ping", "unreachable", false);
  }
  try {
    const body = await (await fetch("/healthz")).json();
    const checks = body.checks || {};
    set("storeReadable", checks.storeReadable ? "yes" : "no", checks.storeReadable);
    set("dataDirWritable", checks.dataDirWritable ? "yes" : "no", checks.dataDirWritable);
    const gib = (checks.freeDiskBytes || 0) / 2 ** 30;
    set("freeDiskBytes", `${gib.toFixed(1)} GiB`, checks.freeDiskBytes >= checks.minFreeDiskBytes);
  } catch (e) {
    set("storeReadable", "unknown", false);
  }
}
refresh();
setInterval(refresh, 10000);
