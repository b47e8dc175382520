// One node on the canvas: the module's name in the page's language, its state, its live progress,
// and a handle per port (inputs on the left, outputs on the right). Right-click an output handle
// to look at what it holds, as in the designer.
import React from "react";
import { Handle, Position } from "@xyflow/react";

function progressLine(progress, t) {
  if (!progress) return null;
  const parts = [];
  if (progress.epoch !== undefined) parts.push(`${t["progress.epoch"]} ${progress.epoch}`);
  if (progress.loss !== undefined) parts.push(`${t["progress.loss"]} ${progress.loss.toFixed(4)}`);
  if (progress.images_per_second !== undefined)
    parts.push(`${Math.round(progress.images_per_second)} ${t["progress.images_per_second"]}`);
  return parts.join(" · ");
}

// The numbers a node shows when its module reports results (Evaluate Model's): the headline ones.
const HEADLINE = /Accuracy|AUC/;

export default function ModuleNode({ id, data }) {
  const { spec, state, progress, result, error, t, onPreview } = data;
  if (!spec) {
    return <div className="vb-node vb-state-failed">{id}: {data.module}</div>;
  }
  const rows = Math.max(spec.inputs.length, spec.outputs.length);
  return (
    <div className={`vb-node vb-state-${state || "idle"}`} data-node-id={id} data-state={state || "idle"}>
      <div className="vb-node-title">{spec.name}</div>
      <div className="vb-node-sub">
        <span className="vb-node-id">{id}</span>
        {state && <span className={`vb-badge vb-badge-${state}`}>{t[`state.${state}`]}</span>}
      </div>
      <div className="vb-ports" style={{ minHeight: rows * 22 }}>
        <div className="vb-port-column">
          {spec.inputs.map((port, i) => (
            <div key={port.name} className="vb-port vb-port-in" title={`${port.label} (${port.type})`}>
              <Handle type="target" position={Position.Left} id={port.name} data-port={port.name}
                      className={`vb-handle vb-type-${port.type}`} style={{ top: "auto" }} />
              <span>{port.label}</span>
            </div>
          ))}
        </div>
        <div className="vb-port-column vb-right">
          {spec.outputs.map((port) => (
            <div key={port.name} className="vb-port vb-port-out" title={`${port.label} (${port.type})`}
                 onContextMenu={(event) => { event.preventDefault(); onPreview(id, port.name); }}>
              <span>{port.label}</span>
              <Handle type="source" position={Position.Right} id={port.name} data-port={port.name}
                      className={`vb-handle vb-type-${port.type}`} style={{ top: "auto" }} />
            </div>
          ))}
        </div>
      </div>
      {progress && <div className="vb-progress">{progressLine(progress, t)}</div>}
      {result && (
        <div className="vb-result">
          {Object.entries(result).filter(([name]) => HEADLINE.test(name)).map(([name, value]) => (
            <div key={name} data-metric={name}>{t[`metric.${name}`] || name}: {Number(value).toFixed(4)}</div>
          ))}
        </div>
      )}
      {error && <div className="vb-node-error">{error.code} {error.name}</div>}
    </div>
  );
}
