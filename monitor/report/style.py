"""The report page's stylesheet: inline in the page, so the file needs nothing else.

System fonts (no web font to fetch), tabular figures in number cells, long words allowed
to break anywhere (a query with no space must not push the page wider than the window),
tables wider than a phone scrolling in their own box (``.scroll``), and the small
multiples in a grid that gives each chart at least 350 pixels.
"""

from __future__ import annotations

__all__ = ["CSS"]

CSS = """
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;padding:1.5em;
color:#1f2328;max-width:1160px}
h1{font-size:1.5em;margin:.2em 0}h2{margin:1.8em 0 .5em;border-bottom:1px solid #d8dee4;
padding-bottom:.2em}h3{font-size:1.05em;margin:1.2em 0 .4em}
p,li,td,th,summary{overflow-wrap:anywhere}
.sub{color:#59636e;margin:0}.summary{background:#fff8e6;border:1px solid #f0d58c;
border-radius:6px;padding:.6em 1.2em;margin:1em 0}.summary li{margin:.25em 0}
.summary.ok{background:#eef8f0;border-color:#a6d8b0}
table{border-collapse:collapse;margin:.6em 0}.scroll{overflow-x:auto;max-width:100%}
td,th{padding:3px 8px;border-bottom:1px solid #e5e7ea;vertical-align:top;text-align:left}
th{background:#f6f8fa;font-weight:600}td.num,th.num{text-align:right;
font-variant-numeric:tabular-nums;white-space:nowrap}
.better{color:#1a7f37}.worse{color:#cf222e}.null,.why{color:#59636e;font-style:italic}
.page{color:#cf222e;font-weight:600}.ticket{color:#9a6700;font-weight:600}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(350px,100%),1fr));gap:12px}
figure{margin:0;border:1px solid #e5e7ea;border-radius:6px;padding:6px;min-width:0}
figcaption{font-size:13px;margin:0 0 4px}figcaption .worse{font-weight:600}
svg{max-width:100%;height:auto;display:block}
.key{font-size:12px;color:#59636e}.key span{margin-right:1.2em;white-space:nowrap}
details.query{border:1px solid #e5e7ea;border-radius:6px;padding:.4em .8em;margin:.5em 0}
details.query>summary{cursor:pointer}.results{width:100%}
.results td.pos{width:2.5em;white-space:nowrap}
.results .body{color:#59636e;font-size:12px}.op{white-space:nowrap}
.results td.res{min-width:12em;width:24%}
q{font-style:italic}
"""
