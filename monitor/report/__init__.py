"""The daily report people read: a terminal table and a self-contained HTML file."""
