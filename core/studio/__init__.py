"""``visionblocks studio``: the designer's canvas as a local web app (FastAPI + a React Flow page).

- :mod:`.settings`: the operator's choices and their defaults (address, key, body limit, run folder);
- :mod:`.modules`: the installed modules as the palette and the parameter forms see them, in a language;
- :mod:`.document`: the pipeline file the studio opens and saves (the YAML ``visionblocks run`` takes)
  and its canvas layout, kept in a side file that ``run`` never reads;
- :mod:`.runs`: one pipeline run at a time in a worker process, its events fanned out to the page;
  :mod:`.worker`: what runs in that process;
- :mod:`.previews`: what an output port holds, as the page shows it;
- :mod:`.schemas`: the pydantic models of the API; :mod:`.routes`: the API; :mod:`.app`: the app;
- :mod:`.ui`: the page's own words in five languages; :mod:`.commands`: the ``studio`` command.

The page itself is built from ``studio/frontend/`` into ``static/`` during set-up (``make setup``).
"""
