"""Small Sphinx additions for the book (loaded by _config.yml, sphinx.local_extensions).

1. ``author_year``: a bibliography style whose labels read like the citations in the text,
   "[Karras et al., 2019]", instead of pybtex's alpha keys ("[KLA19]"). Sorted by author, year
   and title, as the alpha style is; each entry's arXiv identifier (``eprint``) or DOI becomes a
   link, which pybtex's formatting already does.
2. Inline scripts only once per page. Sphinx 7.4 adds an inline script that an extension
   registers after the builder started (``app.add_js_file(None, body=...)``) twice, once as
   ``None`` and once as ``''`` (sphinx-doc/sphinx#13402, fixed in Sphinx 8.2). With sphinx-thebe
   and sphinx-togglebutton that declared ``const THEBE_JS_URL`` twice, which the browser's
   console reports as an error.
"""

from __future__ import annotations

from collections import Counter

from pybtex.plugin import register_plugin
from pybtex.richtext import Text
from pybtex.style.formatting.alpha import Style as AlphaStyle
from pybtex.style.labels import BaseLabelStyle


def _surname(person) -> str:
    """A person's surname as plain text: "Bi{\\'n}kowski" becomes "Bińkowski"."""
    latex = " ".join(person.prelast_names + person.last_names)
    return Text.from_latex(latex).render_as("text")


def author_year_label(entry) -> str:
    """"Goodfellow et al., 2014", "Mescheder and Geiger, 2018" or "Radford, 2016"."""
    people = entry.persons.get("author") or entry.persons.get("editor") or []
    names = [_surname(p) for p in people]
    if not names:
        who = entry.fields.get("title", entry.key)
    elif len(names) == 1:
        who = names[0]
    elif len(names) == 2:
        who = f"{names[0]} and {names[1]}"
    else:
        who = f"{names[0]} et al."
    return f"{who}, {entry.fields.get('year', 'n.d.')}"


class AuthorYearLabelStyle(BaseLabelStyle):
    """Author-year labels; two entries with the same label get "a", "b", ... after the year."""

    def format_labels(self, sorted_entries):
        entries = list(sorted_entries)
        labels = [author_year_label(e) for e in entries]
        counts = Counter(labels)
        seen: Counter = Counter()
        for label in labels:
            if counts[label] > 1:
                yield label + "abcdefghijklmnopqrstuvwxyz"[seen[label]]
                seen[label] += 1
            else:
                yield label


class AuthorYearStyle(AlphaStyle):
    """pybtex's alpha style (sorted by author, year, title) with author-year labels."""

    default_label_style = AuthorYearLabelStyle


register_plugin("pybtex.style.labels", "author_year", AuthorYearLabelStyle)
register_plugin("pybtex.style.formatting", "author_year", AuthorYearStyle)


def _inline_scripts_once(app, pagename, templatename, context, doctree) -> None:
    """Drop the second copy of any script with the same file (or none) and the same attributes."""
    scripts = context.get("script_files")
    if not isinstance(scripts, list):
        return
    seen = set()
    unique = []
    for js in scripts:
        key = (getattr(js, "filename", None) or "", tuple(sorted(getattr(js, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(js)
    scripts[:] = unique  # in place: the builder restores its own list before the next page


def setup(app):
    app.connect("html-page-context", _inline_scripts_once, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
