// The studio: palette, canvas (React Flow), the selected node's form, the run and its previews.
import React, { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { Background, Controls, MiniMap, ReactFlow, useEdgesState, useNodesState, useReactFlow } from "@xyflow/react";
import { api, ApiError, setLanguage } from "./api.js";
import ModuleNode from "./ModuleNode.jsx";
import ParamForm from "./ParamForm.jsx";
import Preview from "./Preview.jsx";

const nodeTypes = { module: ModuleNode };
const LANGUAGE_NAMES = { en: "English", es: "Español", pt: "Português", ru: "Русский", fr: "Français" };

function errorOf(exc) {
  return exc instanceof ApiError ? exc.error : { code: "1000", name: "LibraryException", message: String(exc) };
}

// The canvas's nodes and edges as the pipeline file says them (plus the layout).
function toDocument(meta, nodes, edges) {
  return {
    name: meta.name, options: meta.options, extra: meta.extra, path: meta.path,
    nodes: nodes.map((n) => ({ id: n.id, module: n.data.module, params: n.data.params, inputs: n.data.inputs })),
    edges: edges.map((e) => ({ source: e.source, source_port: e.sourceHandle, target: e.target, target_port: e.targetHandle })),
    layout: Object.fromEntries(nodes.map((n) => [n.id, { x: Math.round(n.position.x), y: Math.round(n.position.y) }])),
  };
}

function edgeOf(e) {
  return { id: `${e.source}.${e.source_port}->${e.target}.${e.target_port}`, source: e.source,
           sourceHandle: e.source_port, target: e.target, targetHandle: e.target_port };
}

// Where a node goes when the file has no layout for it: columns by depth in the graph.
function autoLayout(document) {
  const depth = {};
  const incoming = (id) => document.edges.filter((e) => e.target === id).map((e) => e.source);
  const depthOf = (id, seen = new Set()) => {
    if (depth[id] !== undefined) return depth[id];
    if (seen.has(id)) return 0;
    seen.add(id);
    const parents = incoming(id);
    depth[id] = parents.length ? 1 + Math.max(...parents.map((p) => depthOf(p, seen))) : 0;
    return depth[id];
  };
  const rows = {};
  const layout = {};
  for (const node of document.nodes) {
    const d = depthOf(node.id);
    rows[d] = (rows[d] || 0) + 1;
    layout[node.id] = { x: 40 + d * 250, y: 30 + (rows[d] - 1) * 200 };
  }
  return layout;
}

export default function App() {
  const [lang, setLang] = useState("en");
  const [t, setT] = useState(null);
  const [catalog, setCatalog] = useState({ categories: [], modules: [] });
  const [meta, setMeta] = useState({ name: "pipeline", options: {}, extra: {}, path: null });
  const [nodes, setNodes, onNodesChange] = useNodesState([]);
  const [edges, setEdges, onEdgesChange] = useEdgesState([]);
  const [selected, setSelected] = useState(null);
  const [paramErrors, setParamErrors] = useState({});
  const [notice, setNotice] = useState(null); // {kind: "error"|"info", text, error}
  const [runState, setRunState] = useState(null);
  const [runError, setRunError] = useState(null);
  const [preview, setPreview] = useState(null);
  const [explanation, setExplanation] = useState(null);
  const [search, setSearch] = useState("");
  const [pathField, setPathField] = useState("");
  const [ready, setReady] = useState(false); // the opened file is on the canvas
  const history = useRef([]);
  const latestCheck = useRef({}); // "node.param" -> number of the last check asked for
  const flow = useReactFlow();
  const specs = useMemo(() => Object.fromEntries(catalog.modules.map((m) => [m.id, m])), [catalog]);

  // -- loading ------------------------------------------------------------------------------------
  const loadLanguage = useCallback(async (next) => {
    setLanguage(next);
    const [strings, modules] = await Promise.all([api.ui(next), api.modules(next)]);
    setT(strings);
    setCatalog(modules);
    setLang(next);
    setNotice(null); // a message in the language left behind
    setParamErrors({});
    document.documentElement.lang = next;
  }, []);

  const showDocument = useCallback((doc) => {
    const layout = Object.keys(doc.layout || {}).length ? { ...autoLayout(doc), ...doc.layout } : autoLayout(doc);
    setMeta({ name: doc.name, options: doc.options || {}, extra: doc.extra || {}, path: doc.path });
    setPathField(doc.path || "");
    setNodes(doc.nodes.map((n) => ({ id: n.id, type: "module", position: layout[n.id],
                                     data: { module: n.module, params: n.params || {}, inputs: n.inputs || {} } })));
    setEdges(doc.edges.map(edgeOf));
    history.current = [];
    setSelected(null);
    setParamErrors({});
  }, [setNodes, setEdges]);

  useEffect(() => {
    (async () => {
      const params = new URLSearchParams(window.location.search);
      const session = await api.session(params.get("lang") || undefined);
      await loadLanguage(session.language);
      showDocument(await api.pipeline());
      setReady(true);
    })().catch((exc) => setNotice({ kind: "error", error: errorOf(exc) }));
  }, [loadLanguage, showDocument]);

  // -- undo ---------------------------------------------------------------------------------------
  const remember = useCallback(() => {
    history.current.push({ nodes: structuredClone(nodes.map(({ id, type, position, data }) => ({ id, type, position, data: { module: data.module, params: data.params, inputs: data.inputs } }))), edges: structuredClone(edges) });
    if (history.current.length > 100) history.current.shift();
  }, [nodes, edges]);

  const undo = useCallback(() => {
    const last = history.current.pop();
    if (!last) return;
    setNodes(last.nodes);
    setEdges(last.edges);
  }, [setNodes, setEdges]);

  useEffect(() => {
    const onKey = (event) => {
      if ((event.ctrlKey || event.metaKey) && event.key === "z" && !["INPUT", "SELECT"].includes(event.target.tagName)) {
        event.preventDefault();
        undo();
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [undo]);

  // -- editing ------------------------------------------------------------------------------------
  const addModule = useCallback((moduleId, position) => {
    remember();
    const base = moduleId.replace(/-/g, "_");
    const taken = new Set(nodes.map((n) => n.id));
    let id = base;
    for (let i = 2; taken.has(id); i++) id = `${base}_${i}`;
    // A double-clicked module goes under the lowest node, not on top of the pipeline's first one
    // (where it hid that node's ports), one column in: input handles at the canvas's edge make a
    // connection drag auto-pan the view.
    const below = nodes.length ? { x: Math.min(...nodes.map((n) => n.position.x)) + 250,
                                   y: Math.max(...nodes.map((n) => n.position.y + (n.measured?.height ?? 100))) + 40 }
      : { x: 80, y: 80 };
    setNodes((current) => [...current, { id, type: "module", position: position || below,
                                         data: { module: moduleId, params: {}, inputs: {} } }]);
    setSelected(id);
  }, [nodes, remember, setNodes]);

  const onDrop = useCallback((event) => {
    event.preventDefault();
    const moduleId = event.dataTransfer.getData("application/x-visionblocks-module");
    if (!moduleId) return;
    addModule(moduleId, flow.screenToFlowPosition({ x: event.clientX, y: event.clientY }));
  }, [addModule, flow]);

  const onConnect = useCallback(async (connection) => {
    const source = nodes.find((n) => n.id === connection.source);
    const target = nodes.find((n) => n.id === connection.target);
    if (!source || !target) return;
    if (edges.some((e) => e.target === connection.target && e.targetHandle === connection.targetHandle)) {
      setNotice({ kind: "error", text: t["connection.taken"] });
      return;
    }
    try {
      const answer = await api.checkConnection({ source_module: source.data.module, source_port: connection.sourceHandle,
                                                 target_module: target.data.module, target_port: connection.targetHandle, lang });
      if (!answer.ok) {
        setNotice({ kind: "error", text: `${t["connection.refused"]}: ${answer.reason}`, testid: "connection-refused" });
        return;
      }
    } catch (exc) {
      setNotice({ kind: "error", error: errorOf(exc) });
      return;
    }
    remember();
    setEdges((current) => [...current, edgeOf({ source: connection.source, source_port: connection.sourceHandle,
                                                target: connection.target, target_port: connection.targetHandle })]);
    setNotice(null);
  }, [nodes, edges, lang, t, remember, setEdges]);

  const deleteSelected = useCallback(() => {
    const doomedNodes = new Set(nodes.filter((n) => n.selected || n.id === selected).map((n) => n.id));
    const doomedEdges = new Set(edges.filter((e) => e.selected).map((e) => e.id));
    if (!doomedNodes.size && !doomedEdges.size) return;
    remember();
    setNodes((current) => current.filter((n) => !doomedNodes.has(n.id)));
    setEdges((current) => current.filter((e) => !doomedEdges.has(e.id) && !doomedNodes.has(e.source) && !doomedNodes.has(e.target)));
    setSelected(null);
  }, [nodes, edges, selected, remember, setNodes, setEdges]);

  const onBeforeDelete = useCallback(async () => { remember(); return true; }, [remember]);

  const setParam = useCallback(async (param, value) => {
    remember();
    const id = selected;
    setNodes((current) => current.map((n) => n.id !== id ? n
      : { ...n, data: { ...n.data, params: { ...n.data.params, [param.name]: value } } }));
    const node = nodes.find((n) => n.id === id);
    const key = `${id}.${param.name}`;
    const asked = (latestCheck.current[key] = (latestCheck.current[key] || 0) + 1);
    let error;
    try {
      const answer = await api.checkParam(node.data.module, param.name, value, lang);
      error = answer.ok ? null : answer.error;
    } catch (exc) {
      error = errorOf(exc);
    }
    // Answers can overtake each other while the user types: only the last value's answer counts.
    if (latestCheck.current[key] === asked) setParamErrors((current) => ({ ...current, [key]: error }));
  }, [selected, nodes, lang, remember, setNodes]);

  const setInputPath = useCallback((port, path) => {
    remember();
    setNodes((current) => current.map((n) => {
      if (n.id !== selected) return n;
      const inputs = { ...n.data.inputs };
      if (path) inputs[port] = path; else delete inputs[port];
      return { ...n, data: { ...n.data, inputs } };
    }));
  }, [selected, remember, setNodes]);

  // -- files --------------------------------------------------------------------------------------
  const save = useCallback(async () => {
    try {
      const answer = await api.save(toDocument(meta, nodes, edges), pathField || undefined);
      setMeta((current) => ({ ...current, path: answer.path }));
      setNotice({ kind: "info", text: `${t["notice.saved"]} ${answer.path}`, testid: "saved" });
    } catch (exc) {
      setNotice({ kind: "error", error: errorOf(exc) });
    }
  }, [meta, nodes, edges, pathField, t]);

  const openFile = useCallback(async () => {
    try {
      showDocument(await api.open(pathField));
      setNotice({ kind: "info", text: `${t["notice.opened"]} ${pathField}` });
    } catch (exc) {
      setNotice({ kind: "error", error: errorOf(exc) });
    }
  }, [pathField, showDocument, t]);

  // -- running ------------------------------------------------------------------------------------
  const applyEvent = useCallback((event) => {
    if (event.event === "run") {
      setRunState(event.state);
      setRunError(event.error || null);
      if (event.state === "running") {
        setNodes((current) => current.map((n) => ({ ...n, data: { ...n.data, state: undefined, progress: undefined, result: undefined, error: undefined } })));
      }
      return;
    }
    setNodes((current) => current.map((n) => {
      if (n.id !== event.id) return n;
      if (event.event === "node") return { ...n, data: { ...n.data, state: event.state, error: event.error || undefined } };
      if (event.event === "metrics") {
        const m = event.metrics;
        if (event.scope === "result") return { ...n, data: { ...n.data, result: { ...(n.data.result || {}), ...m } } };
        const progress = { ...(n.data.progress || {}) };
        if (event.scope === "epoch") progress.epoch = event.step;
        const loss = m.train_loss ?? m.loss;
        if (loss !== undefined) progress.loss = loss;
        if (m.images_per_second !== undefined) progress.images_per_second = m.images_per_second;
        return { ...n, data: { ...n.data, progress } };
      }
      return n;
    }));
  }, [setNodes]);

  // Opened once the nodes are on the canvas: the stream starts with the current run's events so
  // far, so a reloaded page shows the run as it stands.
  useEffect(() => {
    if (!ready) return undefined;
    const source = new EventSource("api/run/events");
    source.onmessage = (message) => applyEvent(JSON.parse(message.data));
    return () => source.close();
  }, [ready, applyEvent]);

  const runPipeline = useCallback(async () => {
    setExplanation(null);
    setRunError(null);
    setNotice(null); // a refusal of an earlier Run would otherwise stay on screen over this run
    try {
      await api.run(toDocument(meta, nodes, edges), lang);
    } catch (exc) {
      setNotice({ kind: "error", error: errorOf(exc) });
    }
  }, [meta, nodes, edges, lang]);

  const explain = useCallback(async () => {
    try {
      setExplanation(await api.explain(toDocument(meta, nodes, edges), lang));
    } catch (exc) {
      setNotice({ kind: "error", error: errorOf(exc) });
    }
  }, [meta, nodes, edges, lang]);

  const showPreview = useCallback(async (node, port) => {
    try {
      setPreview(await api.preview(node, port));
    } catch (exc) {
      setNotice({ kind: "error", error: errorOf(exc) });
    }
  }, []);

  // -- drawing ------------------------------------------------------------------------------------
  const shownNodes = useMemo(() => nodes.map((n) => ({
    ...n, data: { ...n.data, spec: specs[n.data.module], t: t || {}, onPreview: showPreview },
  })), [nodes, specs, t, showPreview]);

  if (!t) return <div className="vb-loading">visionblocks studio…</div>;

  const node = nodes.find((n) => n.id === selected);
  const spec = node && specs[node.data.module];
  const nodeErrors = node ? Object.fromEntries(Object.entries(paramErrors)
    .filter(([key, value]) => key.startsWith(`${node.id}.`) && value).map(([key, value]) => [key.slice(node.id.length + 1), value])) : {};
  const connected = new Set(edges.filter((e) => node && e.target === node.id).map((e) => e.targetHandle));
  const query = search.trim().toLowerCase();
  const byCategory = catalog.categories.map((category) => [category, catalog.modules.filter((m) => m.category === category
    && (!query || `${m.name} ${m.id} ${m.summary}`.toLowerCase().includes(query)))]).filter(([, list]) => list.length);

  return (
    <div className="vb-app">
      <header className="vb-toolbar">
        <strong className="vb-brand">{t["app.title"]}</strong>
        <input className="vb-path" name="pipeline-path" value={pathField} placeholder={t["toolbar.path"]}
               onChange={(e) => setPathField(e.target.value)} />
        <button type="button" name="open" onClick={openFile}>{t["button.open"]}</button>
        <button type="button" name="save" onClick={save}>{t["button.save"]}</button>
        <span className="vb-sep" />
        <button type="button" name="undo" onClick={undo}>{t["button.undo"]}</button>
        <button type="button" name="delete" onClick={deleteSelected}>{t["button.delete"]}</button>
        <span className="vb-sep" />
        <button type="button" name="explain" onClick={explain}>{t["button.explain"]}</button>
        <button type="button" name="run" className="vb-primary" onClick={runPipeline} disabled={runState === "running"}>{t["button.run"]}</button>
        <button type="button" name="cancel" onClick={() => api.cancel()} disabled={runState !== "running"}>{t["button.cancel"]}</button>
        {runState && <span className={`vb-run-state vb-badge vb-badge-${runState}`} data-run-state={runState}>{t[`run.${runState}`]}</span>}
        <span className="vb-grow" />
        <label className="vb-lang">{t["toolbar.language"]}{" "}
          <select name="language" value={lang} onChange={(e) => loadLanguage(e.target.value)}>
            {Object.entries(LANGUAGE_NAMES).map(([code, name]) => <option key={code} value={code}>{name}</option>)}
          </select>
        </label>
      </header>
      {notice && (
        <div className={`vb-notice vb-notice-${notice.kind}`} data-testid={notice.testid || "notice"} role="status">
          {notice.text}
          {notice.error && <span><strong>{notice.error.code} {notice.error.name}</strong>: {notice.error.message} {notice.error.detail} {notice.error.hint}</span>}
          <button type="button" onClick={() => setNotice(null)} aria-label={t["button.close"]}>×</button>
        </div>
      )}
      {runError && (
        <div className="vb-notice vb-notice-error" data-testid="run-error">
          {/* One span: the notice is a flex row, and code, detail and hint are one sentence. */}
          <span><strong>{runError.code} {runError.name}</strong>: {runError.detail} {runError.hint && <em>{t["error.hint"]}: {runError.hint}</em>}</span>
        </div>
      )}
      <div className="vb-main">
        <aside className="vb-palette">
          <input type="search" name="palette-search" placeholder={t["palette.search"]} value={search}
                 onChange={(e) => setSearch(e.target.value)} />
          {byCategory.map(([category, list]) => (
            <details key={category} open className="vb-category">
              <summary>{category}</summary>
              {list.map((m) => (
                <div key={m.id} className="vb-palette-item" draggable data-module={m.id} title={m.summary}
                     onDragStart={(e) => { e.dataTransfer.setData("application/x-visionblocks-module", m.id); e.dataTransfer.effectAllowed = "move"; }}
                     onDoubleClick={() => addModule(m.id)}>
                  {m.name}
                </div>
              ))}
            </details>
          ))}
          <p className="vb-muted vb-small">{t["palette.hint"]}</p>
        </aside>
        <main className="vb-canvas" onDrop={onDrop} onDragOver={(e) => { e.preventDefault(); e.dataTransfer.dropEffect = "move"; }}>
          <ReactFlow nodes={shownNodes} edges={edges} nodeTypes={nodeTypes} onNodesChange={onNodesChange}
                     onEdgesChange={onEdgesChange} onConnect={onConnect} onBeforeDelete={onBeforeDelete}
                     onNodeDragStart={remember} onNodeClick={(_, n) => setSelected(n.id)}
                     onPaneClick={() => setSelected(null)} fitView fitViewOptions={{ padding: 0.05 }} minZoom={0.2} deleteKeyCode={["Delete", "Backspace"]}>
            <Background />
            <Controls />
            <MiniMap pannable zoomable />
          </ReactFlow>
        </main>
        <aside className="vb-side">
          {node && spec ? (
            <div className="vb-node-panel" data-selected={node.id}>
              <h2>{spec.name}</h2>
              <p className="vb-muted">{node.id} · <a href={spec.reference} target="_blank" rel="noreferrer" name="reference">{t["panel.reference"]}</a></p>
              <p>{spec.summary}</p>
              {node.data.error && (
                <div className="vb-error" data-testid="node-error">
                  <strong>{node.data.error.code} {node.data.error.name}</strong>: {node.data.error.detail}
                  {node.data.error.hint && <div><em>{t["error.hint"]}:</em> {node.data.error.hint}</div>}
                </div>
              )}
              <h3>{t["panel.parameters"]}</h3>
              <ParamForm spec={spec} params={node.data.params} errors={nodeErrors} onChange={setParam} t={t} />
              {spec.inputs.some((p) => !connected.has(p.name)) && <h3>{t["panel.inputs"]}</h3>}
              {spec.inputs.filter((p) => !connected.has(p.name)).map((port) => (
                <label key={port.name} className="vb-field" data-input={port.name}>
                  <span className="vb-label">{port.label} ({port.type})</span>
                  <input type="text" name={`input-${port.name}`} value={node.data.inputs[port.name] || ""}
                         placeholder={t["panel.input_path"]} onChange={(e) => setInputPath(port.name, e.target.value)} />
                </label>
              ))}
              <h3>{t["panel.outputs"]}</h3>
              {spec.outputs.map((port) => (
                <div key={port.name} className="vb-output-row">
                  <span>{port.label} ({port.type})</span>
                  <button type="button" name={`preview-${port.name}`} onClick={() => showPreview(node.id, port.name)}>{t["button.preview"]}</button>
                </div>
              ))}
            </div>
          ) : node ? (
            <p className="vb-error">{t["panel.unknown_module"]}: {node.data.module}</p>
          ) : (
            <p className="vb-muted">{t["panel.nothing_selected"]}</p>
          )}
          {explanation && (
            <div className="vb-explain" data-testid="explanation">
              <h3>{t["explain.title"]}</h3>
              <ul>
                {explanation.decisions.map((d) => (
                  <li key={d.id} data-decision={d.status}>
                    <strong>{d.id}</strong>: {t[`explain.${d.status}`]}
                    <ul>{d.reasons.map((r, i) => <li key={i}>{t[`reason.${r.kind}`] || r.kind} <span className="vb-muted">({r.text})</span></li>)}</ul>
                  </li>
                ))}
              </ul>
            </div>
          )}
        </aside>
      </div>
      {preview && <Preview data={preview} t={t} onClose={() => setPreview(null)} />}
    </div>
  );
}
