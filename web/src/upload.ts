// The browser side of the resumable build upload (`PUT uploadUrl` with `Content-Range`, as in
// Google Cloud Storage's resumable uploads): the file goes in pieces, and after a dropped
// connection the upload asks the appliance how far it got and continues from there.
import { ApiError, type Json } from "./api";

/** Bytes per PUT: a dropped connection costs at most this much again. */
export const PIECE_BYTES = 4 * 1024 * 1024;
const ATTEMPTS = 6;

interface Answer {
  status: number;
  range: string | null;
  body: Json;
}

function put(url: string, body: Blob | null, range: string, onSent: (sent: number) => void): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", url);
    xhr.setRequestHeader("Content-Range", range);
    xhr.upload.onprogress = (event) => onSent(event.loaded);
    xhr.onload = () => {
      let body: Json = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = null;
      }
      resolve({ status: xhr.status, range: xhr.getResponseHeader("Range"), body });
    };
    xhr.onerror = () => reject(new ApiError(0, "network", "the connection dropped"));
    xhr.send(body);
  });
}

/** The bytes the appliance holds, from a 308's `Range: bytes=0-N`; null once complete. */
function stored(answer: Answer): number | null {
  if (answer.status === 200 || answer.status === 201) return null;
  if (answer.status !== 308) {
    throw new ApiError(answer.status, answer.body?.error ?? "http", answer.body?.message ?? `HTTP ${answer.status}`);
  }
  const last = answer.range?.match(/bytes=0-(\d+)/);
  return last ? Number(last[1]) + 1 : 0;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Sends `file` to `url`, reporting progress, resuming after failures; resolves with the
 * appliance's final answer (`{sizeBytes, taskName}` of the processing task). With `resume`
 * it first asks how much an earlier attempt (another page load) stored.
 */
export async function uploadBuild(url: string, file: Blob, resume: boolean, onProgress: (sent: number, total: number) => void): Promise<Json> {
  const total = file.size;
  let offset = 0;
  let failures = 0;
  if (resume) {
    const answer = await put(url, null, `bytes */${total}`, () => undefined);
    const next = stored(answer);
    if (next === null) return answer.body;
    offset = next;
    onProgress(offset, total);
  }
  for (;;) {
    try {
      const end = Math.min(offset + PIECE_BYTES, total);
      const range = total === 0 ? "bytes */0" : `bytes ${offset}-${end - 1}/${total}`;
      const answer = await put(url, file.slice(offset, end), range, (sent) => onProgress(offset + sent, total));
      const next = stored(answer);
      if (next === null) {
        onProgress(total, total);
        return answer.body;
      }
      offset = next;
      failures = 0;
    } catch (error) {
      const passing = error instanceof ApiError && (error.status === 0 || error.status === 416 || error.status >= 500);
      if (!passing || ++failures >= ATTEMPTS) throw error;
      await pause(500 * 2 ** (failures - 1));
      const answer = await put(url, null, `bytes */${total}`, () => undefined).catch(() => null);
      if (answer) {
        const next = stored(answer);
        if (next === null) {
          onProgress(total, total);
          return answer.body;
        }
        offset = next;
      }
    }
  }
}

/** An upload URL the appliance handed out for a file, kept until the upload completes. */
export interface Pending {
  url: string;
  expires: string;
}

// A file is recognised by its name, size and modification time: choosing the same file again
// after a reload or a closed tab continues its upload instead of starting over.
const pendingKey = (app: string, file: File) => `rockit-edge.upload.${app}.${file.name}.${file.size}.${file.lastModified}`;

/** The unexpired upload URL of an earlier attempt to upload `file` to `app`, if any. */
export function pendingUpload(app: string, file: File): Pending | null {
  const text = localStorage.getItem(pendingKey(app, file));
  const pending = text ? (JSON.parse(text) as Pending) : null;
  if (pending && Date.parse(pending.expires) > Date.now() + 60_000) return pending;
  rememberUpload(app, file, null);
  return null;
}

export function rememberUpload(app: string, file: File, pending: Pending | null) {
  if (pending) localStorage.setItem(pendingKey(app, file), JSON.stringify(pending));
  else localStorage.removeItem(pendingKey(app, file));
}
