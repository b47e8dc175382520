// Copy buttons copy runnable code only. Examples written as doctests are highlighted as `pycon`
// (core/docs/mkdocs_hooks.py), where Pygments marks every prompt (`>>> `, `... `) with class "gp"
// and the expected output with "go". The lines that start with a prompt, without it, make the
// script; Material's copy button copies a code element's data-copy attribute when it has one.
(function () {
  function scriptOf(code) {
    var lines = [{ prompt: false, text: "" }];
    code.childNodes.forEach(function (node) {
      var kind = node.nodeType === Node.ELEMENT_NODE ? node.className : "";
      node.textContent.split("\n").forEach(function (part, index) {
        if (index > 0) lines.push({ prompt: false, text: "" });
        var line = lines[lines.length - 1];
        if (kind === "gp") line.prompt = true;
        else if (kind !== "go") line.text += part;
      });
    });
    return lines
      .filter(function (line) { return line.prompt; })
      .map(function (line) { return line.text; })
      .join("\n")
      .replace(/\s+$/, "");
  }

  function markExamples() {
    document.querySelectorAll(".highlight code").forEach(function (code) {
      if (code.querySelector(".gp")) code.setAttribute("data-copy", scriptOf(code));
    });
  }

  // document$ is Material's page-load signal (it also fires after instant navigation).
  if (typeof document$ !== "undefined") document$.subscribe(markExamples);
  else document.addEventListener("DOMContentLoaded", markExamples);
})();
