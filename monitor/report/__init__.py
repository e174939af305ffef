"""The daily report people read: a terminal view, a self-contained HTML page, JSON.

``model`` reads what the report holds (``load_report`` → ``DailyReport``) through the
store; ``figures`` sets each figure against its baseline; ``health`` holds the judges'
panels; ``queries`` the worst queries and the judges' disagreements; ``summary`` says
what changed in sentences; ``table`` renders for the terminal (80 columns), ``html``,
``charts``, ``svg`` and ``style`` the page (inline SVG and CSS), ``data`` the JSON.
"""
