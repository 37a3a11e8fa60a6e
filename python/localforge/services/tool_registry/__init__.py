"""The tool registry client: share YAML tool definitions through a git repository, a
folder or an HTTP URL (docs/registry.md).

    layout     tools/<name>/<version>/<name>.yaml + index.json; the index built and checked;
               what a shared definition may not do
    sources    `registries:` in the config, fetched with git / over HTTP, offline from the
               last copy
    installer  install / update / remove into ~/.localforge/tools with installed.json
    example    a definition's example run against the real program
    publish    a definition committed on a new branch of a local registry clone
"""
