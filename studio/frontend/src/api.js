// The studio's API, relative to the page (so a prefix or another port needs no change). The key,
// when the studio has one, travels in the cookie the page got with /?key=KEY.
let language = "en";

export function setLanguage(lang) {
  language = lang;
}

export class ApiError extends Error {
  constructor(error) {
    super(`${error.code} ${error.name}: ${error.message}`);
    this.error = error;
  }
}

async function call(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: { "Content-Type": "application/json", "Accept-Language": language },
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  const data = await response.json();
  if (!response.ok) throw new ApiError(data.error || { code: String(response.status), name: "", message: "" });
  return data;
}

export const api = {
  session: (lang) => call("GET", `api/session${lang ? `?lang=${lang}` : ""}`),
  ui: (lang) => call("GET", `api/ui/${lang}`),
  modules: (lang) => call("GET", `api/modules?lang=${lang}`),
  pipeline: () => call("GET", "api/pipeline"),
  open: (path) => call("POST", "api/pipeline/open", { path }),
  save: (document, path) => call("POST", "api/pipeline/save", { document, path }),
  checkParam: (module, param, value, lang) => call("POST", "api/params/check", { module, param, value, lang }),
  checkConnection: (body) => call("POST", "api/connection", body),
  run: (document, lang, force = false) => call("POST", "api/run", { document, lang, force }),
  cancel: () => call("POST", "api/run/cancel"),
  explain: (document, lang) => call("POST", "api/explain", { document, lang }),
  preview: (node, port) => call("GET", `api/preview/${encodeURIComponent(node)}/${encodeURIComponent(port)}`),
};
