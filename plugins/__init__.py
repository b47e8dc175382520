"""visionblocks' built-in modules. Each file is a plugin, loaded through the ``visionblocks``
entry-point group exactly like a third-party plugin."""
