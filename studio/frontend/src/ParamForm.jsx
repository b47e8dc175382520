// The parameter form of one node, generated from its module's spec: the right control per type
// (number with its range, checkbox, choice with each option's display name, path or text), the
// default and help text, parameters shown only when the one that enables them is on, and each
// value checked by the studio (the same check a run makes) with the error shown inline.
import React from "react";

function typed(param, raw) {
  if (param.type === "int" || param.type === "float") {
    if (raw === "") return "";
    const number = Number(raw);
    return Number.isFinite(number) ? number : raw;
  }
  return raw;
}

// Help texts are the module's Markdown-light prose: **labels** in bold and `code` as code.
function Prose({ text }) {
  return text.split(/(\*\*[^*]+\*\*|`[^`]+`)/).map((part, i) => {
    if (part.startsWith("**") && part.endsWith("**")) return <strong key={i}>{part.slice(2, -2)}</strong>;
    if (part.startsWith("`") && part.endsWith("`")) return <code key={i}>{part.slice(1, -1)}</code>;
    return part;
  });
}

function Control({ param, value, onChange }) {
  const name = `param-${param.name}`;
  if (param.type === "bool") {
    return <input type="checkbox" name={name} checked={Boolean(value)} onChange={(e) => onChange(e.target.checked)} />;
  }
  if (param.type === "enum") {
    return (
      <select name={name} value={value ?? ""} onChange={(e) => onChange(e.target.value)}>
        {value === null || value === undefined ? <option value="">—</option> : null}
        {param.choices.map((choice) => (
          <option key={choice.value} value={choice.value}>{choice.label}</option>
        ))}
      </select>
    );
  }
  if (param.type === "int" || param.type === "float") {
    return (
      <input type="number" name={name} value={value ?? ""} step={param.type === "int" ? 1 : "any"}
             min={param.min ?? undefined} max={param.max ?? undefined}
             onChange={(e) => onChange(typed(param, e.target.value))} />
    );
  }
  return <input type="text" name={name} value={value ?? ""} placeholder={param.type === "path" ? "/path" : ""}
                onChange={(e) => onChange(e.target.value)} />;
}

export default function ParamForm({ spec, params, errors, onChange, t }) {
  const valueOf = (param) => (param.name in params ? params[param.name] : param.default);
  const visible = spec.params.filter((param) => {
    if (!param.enabled_by) return true;
    const enabler = spec.params.find((p) => p.name === param.enabled_by);
    return enabler ? Boolean(valueOf(enabler)) : true;
  });
  if (!spec.params.length) return <p className="vb-muted">{t["form.no_params"]}</p>;
  return (
    <form className="vb-form" onSubmit={(e) => e.preventDefault()}>
      {visible.map((param) => {
        const error = errors[param.name];
        return (
          <div key={param.name} className={`vb-field${error ? " vb-invalid" : ""}`} data-param={param.name}>
            <label>
              <span className="vb-label">{param.label}{param.required ? " *" : ""}</span>
              <Control param={param} value={valueOf(param)} onChange={(value) => onChange(param, value)} />
            </label>
            <div className="vb-help">
              <Prose text={param.help} />
              {param.range && param.type !== "enum" && param.type !== "bool" ? ` (${param.range})` : ""}
              {param.default !== null && param.default !== undefined
                ? ` — ${t["form.default"]}: ${String(param.default)}` : ""}
            </div>
            {error && (
              <div className="vb-error" role="alert" data-code={error.code}>
                <strong>{error.code} {error.name}</strong>: {error.message}
                {error.detail ? <div className="vb-detail">{error.detail}</div> : null}
              </div>
            )}
          </div>
        );
      })}
    </form>
  );
}
