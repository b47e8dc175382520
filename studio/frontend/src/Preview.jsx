// What an output port holds (the designer's right-click on an output): image grid with class
// counts and the quarantine list, the first rows of a table with column types, a trained model's
// training curve, and the charts and report page an output keeps beside its data.
import React from "react";

function Curve({ history, metric, t }) {
  const series = [`train_${metric}`, `val_${metric}`].filter((key) => history.some((row) => row[key] != null));
  if (!series.length) return null;
  const values = history.flatMap((row) => series.map((key) => row[key]).filter((v) => v != null));
  const lo = Math.min(...values), hi = Math.max(...values);
  const width = 320, height = 160, pad = 30;
  const x = (i) => pad + (history.length === 1 ? 0 : (i * (width - 2 * pad)) / (history.length - 1));
  const y = (v) => height - pad - (hi === lo ? 0.5 : (v - lo) / (hi - lo)) * (height - 2 * pad);
  const colors = ["#1565c0", "#e65100"];
  return (
    <figure className="vb-curve" data-curve={metric}>
      <svg width={width} height={height} role="img" aria-label={t[`curve.${metric}`]}>
        <line x1={pad} y1={height - pad} x2={width - pad} y2={height - pad} stroke="#999" />
        <line x1={pad} y1={pad} x2={pad} y2={height - pad} stroke="#999" />
        <text x={2} y={pad} fontSize="10">{hi.toFixed(3)}</text>
        <text x={2} y={height - pad} fontSize="10">{lo.toFixed(3)}</text>
        <text x={width / 2} y={height - 6} fontSize="10">{t["progress.epoch"]}</text>
        {series.map((key, s) => (
          <g key={key}>
            <polyline fill="none" stroke={colors[s]} strokeWidth="2"
                      points={history.map((row, i) => (row[key] == null ? null : `${x(i)},${y(row[key])}`))
                        .filter(Boolean).join(" ")} />
            {history.map((row, i) => row[key] == null ? null
              : <circle key={i} cx={x(i)} cy={y(row[key])} r="3" fill={colors[s]} />)}
          </g>
        ))}
      </svg>
      <figcaption>
        {t[`curve.${metric}`]}: {series.map((key, s) => (
          <span key={key} style={{ color: colors[s] }}> {t[key.startsWith("train") ? "curve.training" : "curve.validation"]}</span>
        ))}
      </figcaption>
    </figure>
  );
}

function Images({ data, t }) {
  return (
    <>
      <p>{t["preview.images_count"].replace("{count}", data.count)}</p>
      {data.classes.length > 0 && (
        <table className="vb-table vb-class-counts">
          <thead><tr><th>{t["preview.class"]}</th><th>{t["preview.images"]}</th></tr></thead>
          <tbody>
            {data.classes.map((c) => <tr key={c.name} data-class={c.name}><td>{c.name}</td><td>{c.count}</td></tr>)}
          </tbody>
        </table>
      )}
      <div className="vb-thumbs">
        {data.images.map((image) => (
          <figure key={image.id} className="vb-thumb">
            <img src={image.url} alt={`${image.category ?? ""} ${image.id}`} loading="lazy" />
            <figcaption>{image.category ?? image.id}</figcaption>
          </figure>
        ))}
      </div>
      <h4>{t["preview.quarantine"]} ({data.quarantine.count})</h4>
      {data.quarantine.count === 0 ? <p className="vb-muted">{t["preview.quarantine_empty"]}</p> : (
        <table className="vb-table vb-quarantine">
          <thead><tr><th>{t["preview.file"]}</th><th>{t["preview.reason"]}</th></tr></thead>
          <tbody>{data.quarantine.skipped.map((s) => <tr key={s.file}><td>{s.file}</td><td>{s.reason}</td></tr>)}</tbody>
        </table>
      )}
    </>
  );
}

function Table({ data, t }) {
  return (
    <>
      <p>{t["preview.rows"].replace("{shown}", data.rows.length).replace("{total}", data.rows_total)}</p>
      <div className="vb-table-scroll">
        <table className="vb-table vb-dataframe">
          <thead>
            <tr>{data.columns.map((c) => <th key={c.name}>{c.name}<div className="vb-dtype">{c.dtype}</div></th>)}</tr>
          </thead>
          <tbody>
            {data.rows.map((row, i) => (
              <tr key={i}>{row.map((cell, j) => <td key={j}>{typeof cell === "number" ? +cell.toFixed(6) : String(cell)}</td>)}</tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}

export default function Preview({ data, t, onClose }) {
  return (
    <section className="vb-preview" data-type={data.type}>
      <header>
        <h3>{t["preview.title"]}: {data.node}.{data.port} <span className="vb-muted">({data.type})</span></h3>
        <button type="button" onClick={onClose} name="close-preview">{t["button.close"]}</button>
      </header>
      {data.type === "ImageDirectory" && <Images data={data} t={t} />}
      {data.type === "DataFrameDirectory" && <Table data={data} t={t} />}
      {data.type === "ModelDirectory" && (
        <div className="vb-curves">
          <Curve history={data.history} metric="loss" t={t} />
          <Curve history={data.history} metric="accuracy" t={t} />
        </div>
      )}
      {data.config && <pre className="vb-config">{JSON.stringify(data.config, null, 2)}</pre>}
      {data.report && <p><a href={data.report} target="_blank" rel="noreferrer">{t["preview.report"]}</a></p>}
      {data.charts.length > 0 && (
        <div className="vb-charts">{data.charts.map((url) => <img key={url} src={url} alt={url.split("/").pop()} />)}</div>
      )}
    </section>
  );
}
