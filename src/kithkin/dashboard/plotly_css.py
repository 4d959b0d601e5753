"""plotly.js's own style rules as a stylesheet file, so no page needs an inline style.

At load time plotly.js inserts its rules (modebar, hover labels, notifier) into a
``<style>`` element it creates, which a Content-Security-Policy without
``'unsafe-inline'`` blocks. It skips that when the page already has an element with id
``plotly.js-style-global`` and class ``no-inline-styles`` (plotly.js >= 2.35), which is
the ``<link>`` to this stylesheet. The bundle also injects the CSS of libraries it
embeds (maplibre) in ``<style>`` elements of fixed ids, unless an element with that id
exists: pages put an empty ``<template>`` of each id before the script, and the CSS is
appended to this stylesheet. Everything is read from the installed plotly.min.js, so it
always matches the version served and nothing third-party is copied into the repository.
"""

from __future__ import annotations

import json
import re

# for(k in rules)sel=k.replace(/^,/," ,").replace(/X/g,"<X>").replace(/Y/g,"<Y>")
_RULES_LOOP = re.compile(
    r'for\((?P<key>[\w$]+) in (?P<rules>[\w$]+)\)[\w$]+=(?P=key)\.replace\(/\^,/," ,"\)'
    r'\.replace\(/X/g,"(?P<x>[^"]+)"\)\.replace\(/Y/g,"(?P<y>[^"]+)"\)')
_STRING = r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\''
_PAIR = re.compile(rf"(?P<key>{_STRING}|[A-Za-z_$][\w$]*):(?P<value>{_STRING})")
_ESCAPE = re.compile(r"\\(.)")
# if(!document.getElementById("<id>")){var e=document.createElement("style");
# e.id="<id>",e.textContent='<css>'
_BUNDLED = re.compile(
    r'if\(!document\.getElementById\("(?P<id>[^"]+)"\)\)\{var (?P<var>[\w$]+)='
    r'document\.createElement\("style"\);(?P=var)\.id="(?P=id)",'
    rf"(?P=var)\.textContent=(?P<css>{_STRING})")


def _js_string(literal: str) -> str:
    if literal[0] not in "\"'":
        return literal  # an identifier used as a key
    body = literal[1:-1]
    if literal[0] == "'":
        body = _ESCAPE.sub(lambda m: m.group(1) if m.group(1) in "'\"" else m.group(0), body)
        body = body.replace('"', '\\"')
    decoded: str = json.loads(f'"{body}"')
    return decoded


def plotly_stylesheet(source: str) -> str:
    """The CSS plotly.js would insert, from the text of plotly.min.js.

    Raises ValueError when the rules cannot be found (a plotly.js that stores them
    differently): better no stylesheet than a wrong one.
    """
    loop = _RULES_LOOP.search(source)
    if loop is None:
        raise ValueError("plotly.min.js: the loop over plotly.js's style rules was not found")
    opening = f"{loop.group('rules')}={{"
    start = source.rfind(opening, 0, loop.start())
    if start < 0:
        raise ValueError("plotly.min.js: the object of plotly.js's style rules was not found")
    body = source[start + len(opening):loop.start()]
    rules = []
    for pair in _PAIR.finditer(body):
        selector = re.sub(r"^,", " ,", _js_string(pair.group("key")))
        selector = selector.replace("X", loop.group("x")).replace("Y", loop.group("y"))
        rules.append(f"{selector}{{{_js_string(pair.group('value'))}}}")
    if not rules:
        raise ValueError("plotly.min.js: plotly.js's style rules are empty")
    # plotly.js inserts each rule at index 0, so its first rule ends up last (and wins).
    bundled = [css for _, css in bundled_styles(source)]
    return "\n".join([*bundled, *reversed(rules)]) + "\n"


def bundled_styles(source: str) -> list[tuple[str, str]]:
    """(element id, CSS) of each stylesheet the bundle would inject for an embedded
    library."""
    return [(match.group("id"), _js_string(match.group("css")))
            for match in _BUNDLED.finditer(source)]
